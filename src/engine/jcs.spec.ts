import { canonicalize } from './jcs';

describe('canonicalize (RFC 8785)', () => {
  it.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [[1, 'x', null, true], '[1,"x",null,true]'],
    [{ z: { y: [], x: {} } }, '{"z":{"x":{},"y":[]}}'],
    [1e21, '1e+21'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
    [-0, '0'],
    [333333333.3333333, '333333333.3333333'],
    ['\u20ac\n"\\', '"€\\n\\"\\\\"'],
    [{ a: undefined, b: null }, '{"b":null}'],
  ])('%j -> %s', (input, expected) => {
    expect(canonicalize(input)).toBe(expected);
  });

  it('sorts keys by UTF-16 code units, as the RFC example does', () => {
    // RFC 8785 section 3.2.3 sorting example.
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Object.keys would move the integer-like key first, so read the order from the text.
    const out = canonicalize(input);
    const order = ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) =>
      out.indexOf(`"${k}":`),
    );
    expect(order.every((pos, i) => pos >= 0 && (i === 0 || pos > order[i - 1]))).toBe(true);
  });

  it('refuses values JSON cannot carry faithfully', () => {
    expect(() => canonicalize(NaN)).toThrow(/NaN/);
    expect(() => canonicalize(10n)).toThrow(/bigint/);
  });
});
