import { csvCell, toCsvRow } from './audit-csv';

describe('audit CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line1\nline2', '"line1\nline2"'],
    ['=SUM(A1:A2)', `"'=SUM(A1:A2)"`],
    ['+1', `"'+1"`],
    ['-1', `"'-1"`],
    ['@cmd', `"'@cmd"`],
    ['', ''],
  ])('%j -> %s', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('ends rows with CRLF as RFC 4180 says', () => {
    expect(toCsvRow(['a', 'b'])).toBe('a,b\r\n');
  });
});
