import { jsonDepth } from './body-parsing';

const depth = (s: string, max = 100) => jsonDepth(Buffer.from(s, 'utf8'), max);

describe('jsonDepth', () => {
  it.each([
    ['{}', 1],
    ['[]', 1],
    ['1', 0],
    ['{"a":[1,{"b":[]}]}', 4],
    ['{"a":"[[[[[[[["}', 1], // brackets inside strings do not count
    ['{"a":"\\"[[[["}', 1], // nor after an escaped quote
    ['{"a":"\\\\"}', 1], // an escaped backslash ends before the closing quote
    ['[{"ü[":"ö{"},[]]', 2], // multi-byte characters around brackets in strings
    ['[[],[],[[]]]', 3],
  ])('%s nests %i deep', (json, expected) => {
    expect(depth(json)).toBe(expected);
  });

  it('stops as soon as the limit is passed', () => {
    expect(depth(`${'['.repeat(1_000_000)}`, 32)).toBe(33);
  });
});
