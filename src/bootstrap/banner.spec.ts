import { bannerText } from './banner';

describe('bannerText', () => {
  it('turns a wildcard address into a link a browser can open', () => {
    const text = bannerText({ host: '0.0.0.0', port: 3000, generatedKey: null, envKey: false });
    expect(text).toContain('listening on 0.0.0.0:3000');
    expect(text).toContain('http://localhost:3000/docs');
    expect(text).not.toMatch(/Admin key/);
  });

  it('shows a generated key, or says where the key comes from', () => {
    expect(bannerText({ host: '127.0.0.1', port: 8080, generatedKey: 'sr_abc', envKey: false })).toMatch(
      /Admin key:\s+sr_abc\n.*only this once/,
    );
    expect(bannerText({ host: '::1', port: 1, generatedKey: null, envKey: true })).toMatch(
      /http:\/\/\[::1\]:1\/docs[\s\S]*the value of ADMIN_API_KEY/,
    );
  });

  it('shows a generated audit signing key once, with the public key to hand to auditors', () => {
    const text = bannerText({
      host: '0.0.0.0',
      port: 3000,
      generatedKey: null,
      envKey: true,
      generatedAuditKey: { seed: 'SEED=', publicKey: 'PUB=' },
    });
    expect(text).toMatch(
      /Audit key:\s+SEED=\n[\s\S]*AUDIT_SIGNING_KEY[\s\S]*Public key \(give it to your auditors\): PUB=/,
    );
    expect(bannerText({ host: '0.0.0.0', port: 3000, generatedKey: null, envKey: true })).not.toMatch(/Audit key/);
  });
});
