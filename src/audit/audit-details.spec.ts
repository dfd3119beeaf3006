import { canonicalize } from '../engine/jcs';
import { boundedCopy, columnText, DETAIL_BOUNDS, REFUSED_BOUNDS } from './audit-details';

describe('boundedCopy', () => {
  it('copies a 100,000-level value without recursing into it, and canonicalizes', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: [deep] };
    const copy = boundedCopy(deep, DETAIL_BOUNDS);
    expect(canonicalize(copy)).toContain('[TRUNCATED]');
  });

  it('keeps within its budget whatever the input size', () => {
    const huge = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v'.repeat(5000)]));
    expect(canonicalize(boundedCopy(huge, DETAIL_BOUNDS)).length).toBeLessThan(DETAIL_BOUNDS.budget + 2048);
    expect(canonicalize(boundedCopy(huge, REFUSED_BOUNDS)).length).toBeLessThan(REFUSED_BOUNDS.budget + 512);
    const long = Array.from({ length: 10_000 }, () => 'x');
    expect((boundedCopy(long, DETAIL_BOUNDS) as unknown[]).length).toBe(DETAIL_BOUNDS.items + 1);
  });

  it('redacts secrets, survives cycles and values JSON cannot hold', () => {
    const cyclic: Record<string, unknown> = { confirm: 'RESTORE x', n: Infinity };
    cyclic.self = cyclic;
    const copy = boundedCopy(cyclic, DETAIL_BOUNDS) as Record<string, unknown>;
    expect(copy.confirm).toBe('[REDACTED]');
    expect(copy.n).toBe('Infinity');
    expect(() => canonicalize(copy)).not.toThrow();
  });
});

describe('columnText', () => {
  it('replaces control characters and cuts to the column width', () => {
    expect(columnText('a\u0000b\nc', 10)).toBe('a\uFFFDb\uFFFDc');
    expect(columnText('x'.repeat(300), 200)).toHaveLength(200);
    expect(columnText('', 10)).toBeNull();
    expect(columnText(undefined, 10)).toBeNull();
  });
});
