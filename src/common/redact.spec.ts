import { redactSecrets, redactUrl, safeErrorMessage } from './redact';

describe('redactUrl', () => {
  it.each([
    ['/api/audit', '/api/audit'],
    ['/api/audit?limit=1', '/api/audit?limit=1'],
    ['/x?key=abc&limit=2', '/x?key=[REDACTED]&limit=2'],
    ['/x?api_key=abc&Token=t&confirm=RESTORE%20x', '/x?api_key=[REDACTED]&Token=[REDACTED]&confirm=[REDACTED]'],
    ['/x?pass%77ord=p', '/x?pass%77ord=[REDACTED]'], // judged by the decoded name
    ['/x?%E0%A4%A=1&secret', '/x?%E0%A4%A=1&secret=[REDACTED]'], // a malformed escape does not throw
    ['/x?keyId=k', '/x?keyId=k'], // an identifier, not a secret
  ])('%s -> %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('replaces secret-looking fields at any depth, keeping key ids', () => {
    expect(redactSecrets({ a: [{ apiKey: 'x', keyId: 'k' }], passphrase: 'p', name: 'n' })).toEqual({
      a: [{ apiKey: '[REDACTED]', keyId: 'k' }],
      passphrase: '[REDACTED]',
      name: 'n',
    });
  });
});

describe('safeErrorMessage', () => {
  it('drops the password of a connection string in an error, and bounds the length', () => {
    expect(safeErrorMessage(new Error('connect to postgres://app:s3cr3t@db:5432/x failed'))).toBe(
      'connect to postgres://app:***@db:5432/x failed',
    );
    expect(safeErrorMessage('postgresql://u:p@h/d')).toBe('postgresql://u:***@h/d');
    expect(safeErrorMessage(new Error('x'.repeat(5000)))).toHaveLength(2000);
  });
});
