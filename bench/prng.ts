/**
 * A small seeded PRNG and word-like text, so that the benchmark dataset is the same on every
 * machine and every run: results can be compared and a regression reproduced from its seed.
 */

/** mulberry32: 32-bit state, fast, and good enough for test data (not for anything secret). */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Index skewed towards the start, like word frequencies in real text (roughly Zipf-like). */
  skewed(n: number): number {
    const u = this.next();
    return Math.floor(n * u * u * u);
  }
}

/** Derives independent streams (one per table) from one seed, so tables do not shift each other. */
export function deriveSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  're',
  'ta',
  'ne',
  'so',
  'pu',
  'di',
  'van',
  'ter',
  'mon',
  'sel',
  'gra',
  'bri',
  'cho',
  'en',
  'al',
  'or',
  'is',
  'un',
  'pre',
  'con',
  'ex',
  'ing',
  'ed',
  'ly',
  'tion',
  'ment',
  'ar',
  'est',
  'ic',
];

/** A fixed vocabulary of pronounceable pseudo-words, built from the seed. */
export function vocabulary(seed: number, size = 4000): string[] {
  const rng = new Prng(deriveSeed(seed, 'vocabulary'));
  const words = new Set<string>(['the', 'a', 'to', 'and', 'of', 'in', 'for', 'on', 'with', 'is', 'it', 'we']);
  while (words.size < size) {
    const n = rng.int(1, 4);
    let w = '';
    for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
    words.add(w);
  }
  return [...words];
}

/** Sentences of word-like text, `min`..`max` characters long. */
export function words(rng: Prng, vocab: readonly string[], min: number, max: number): string {
  const target = rng.int(min, max);
  const parts: string[] = [];
  let len = 0;
  let sentence = 0;
  while (len < target) {
    let w = vocab[rng.skewed(vocab.length)];
    if (sentence === 0) w = w[0].toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 6 && rng.next() < 0.12) {
      w += '.';
      sentence = 0;
    } else if (rng.next() < 0.04) {
      w += ',';
    }
    parts.push(w);
    len += w.length + 1;
  }
  return parts.join(' ').slice(0, target);
}
