import type { AuditEvent } from './audit-hash';
import {
  Checkpoint,
  checkpointSignedBy,
  parseCheckpoint,
  parsePublicKey,
  signCheckpoint,
  signingKeyFromSeed,
  verifierKey,
} from './checkpoint';
import { checkpointsFor, eventBody, rechain, TEST_KEY, TEST_ORIGIN, trail } from './trail.fixture';
import { TrailVerifier } from './trail-verifier';

function verify(events: AuditEvent[], cps: Checkpoint[], publicKey = TEST_KEY.publicKey) {
  const v = new TrailVerifier({
    checkpoints: cps.map((c, i) => ({ source: `cp${i + 1}`, text: c.text })),
    publicKey,
  });
  for (const e of events) v.push(e);
  return v.finish();
}

describe('signed checkpoints (C2SP signed note)', () => {
  const [cp] = checkpointsFor(trail(5), [5]);

  it('reads back what it writes, and the signature line has the note form', () => {
    const lines = cp.text.split('\n');
    expect(lines.slice(0, 3)).toEqual([TEST_ORIGIN, '5', cp.rootHash.toString('base64')]);
    expect(lines[3]).toMatch(/^time 2026-/);
    expect(cp.text).toMatch(new RegExp(`\\n\\n\u2014 ${TEST_ORIGIN.replace(/\./g, '\\.')} [A-Za-z0-9+/]+=*\\n$`));
    const back = parseCheckpoint(cp.text);
    expect(back).toMatchObject({ origin: TEST_ORIGIN, treeSize: 5, time: cp.time, body: cp.body });
    expect(checkpointSignedBy(back, TEST_ORIGIN, TEST_KEY.publicKey)).toBe(true);
  });

  it('refuses a changed body, another key, another name, a cut signature', () => {
    const other = signingKeyFromSeed(Buffer.alloc(32, 9).toString('base64'), TEST_ORIGIN);
    expect(
      checkpointSignedBy(parseCheckpoint(cp.text.replace('\n5\n', '\n6\n')), TEST_ORIGIN, TEST_KEY.publicKey),
    ).toBe(false);
    expect(checkpointSignedBy(parseCheckpoint(cp.text), TEST_ORIGIN, other.publicKey)).toBe(false);
    expect(checkpointSignedBy(parseCheckpoint(cp.text), 'other.origin/x', TEST_KEY.publicKey)).toBe(false);
    const sig = cp.text.slice(cp.text.lastIndexOf(' ') + 1, -1);
    const cut = cp.text.replace(sig, Buffer.from(sig, 'base64').subarray(0, 40).toString('base64'));
    expect(checkpointSignedBy(parseCheckpoint(cut), TEST_ORIGIN, TEST_KEY.publicKey)).toBe(false);
  });

  it('names what is malformed', () => {
    expect(() => parseCheckpoint('hello\n')).toThrow(/signed note/);
    expect(() => parseCheckpoint(cp.text.replace('\n5\n', '\nfive\n'))).toThrow(/tree size/);
    expect(() => parseCheckpoint(cp.text.replace(/\n\u2014 .*\n$/, '\nnope\n'))).toThrow(/signature line/);
  });

  it('takes the public key as base64, as a signed-note verifier key, or as the API JSON', () => {
    const b64 = TEST_KEY.publicKey.toString('base64');
    expect(parsePublicKey(b64).equals(TEST_KEY.publicKey)).toBe(true);
    expect(parsePublicKey(verifierKey(TEST_ORIGIN, TEST_KEY.publicKey)).equals(TEST_KEY.publicKey)).toBe(true);
    expect(parsePublicKey(JSON.stringify({ algorithm: 'ed25519', publicKey: b64 })).equals(TEST_KEY.publicKey)).toBe(
      true,
    );
    expect(() => parsePublicKey('abcd')).toThrow(/32 bytes/);
  });
});

describe('TrailVerifier', () => {
  const events = trail(12);
  const cps = checkpointsFor(events, [3, 7, 12]);

  it('accepts an intact trail with its checkpoints, in any order, duplicates included', () => {
    const r = verify(events, [cps[2], cps[0], cps[1], cps[0]]);
    expect(r).toMatchObject({ ok: true, failure: null });
    expect(r.checkpoints).toMatchObject({ checked: 3, ok: true, firstBad: null, latest: { treeSize: 12 } });
  });

  it('accepts a trail that grew past its last checkpoint', () => {
    const longer = rechain([...events.map((e) => eventBody(e.seq)), eventBody(13)]);
    expect(verify(longer, cps).ok).toBe(true);
  });

  it('an edited event: the chain breaks there and the checkpoints covering it no longer match', () => {
    const edited = events.map((e) => (e.seq === 5 ? { ...e, details: { note: 'edited' } } : e));
    const r = verify(edited, cps);
    expect(r.ok).toBe(false);
    expect(r.chain).toMatchObject({ firstBadSeq: 5, problem: 'hash-mismatch' });
    expect(r.failure).toMatch(/^event 5: hash-mismatch/);
    // Hashes left as they were: the tree still matches; the chain is what caught it.
    expect(r.checkpoints.ok).toBe(true);
  });

  it('the whole chain recomputed consistently: the signed roots catch it', () => {
    const bodies = events.map((e) => eventBody(e.seq, e.seq === 5 ? 'rewritten' : 'original'));
    const r = verify(rechain(bodies), cps);
    expect(r.chain.ok).toBe(true);
    expect(r.checkpoints).toMatchObject({ ok: false, firstBad: 7, problem: 'root-mismatch' });
  });

  it('an event inserted in the middle and re-chained: the signed roots catch it', () => {
    const bodies = events.map((e) => eventBody(e.seq));
    bodies.splice(4, 0, eventBody(99, 'inserted'));
    const r = verify(rechain(bodies), cps);
    expect(r.chain.ok).toBe(true);
    expect(r.checkpoints).toMatchObject({ ok: false, firstBad: 7, problem: 'root-mismatch' });
  });

  it('the tail deleted (or the database rolled back): a checkpoint is beyond the trail', () => {
    const r = verify(events.slice(0, 9), cps);
    expect(r.chain.ok).toBe(true);
    expect(r.checkpoints).toMatchObject({ ok: false, firstBad: 12, problem: 'beyond-trail' });
    expect(r.failure).toMatch(/only 9/);
  });

  it('a fork: checkpoints of two histories, gathered in one place, are caught', () => {
    const forked = rechain(events.map((e) => eventBody(e.seq, e.seq > 8 ? 'fork' : 'original')));
    const forkCps = checkpointsFor(forked, [12], { after: cps[1] });
    // Each history on its own verifies...
    expect(verify(forked, [cps[0], cps[1], forkCps[0]]).ok).toBe(true);
    // ...but both histories' checkpoints together cannot.
    const r = verify(events, [...cps, forkCps[0]]);
    expect(r.checkpoints).toMatchObject({ ok: false, firstBad: 12, problem: 'fork' });
    const r2 = verify(forked, [...cps, ...checkpointsFor(forked, [10], { after: cps[1] })]);
    expect(r2.checkpoints.ok).toBe(false);
  });

  it('a checkpoint missing from the middle, or a re-signed one that does not follow: previous-mismatch', () => {
    expect(verify(events, [cps[0], cps[2]]).checkpoints).toMatchObject({ firstBad: 12, problem: 'previous-mismatch' });
    const fresh = checkpointsFor(events, [12]);
    expect(verify(events, [cps[0], cps[1], fresh[0]]).checkpoints.problem).toBe('previous-mismatch');
  });

  it('a checkpoint dated before its predecessor', () => {
    const early = signCheckpoint({ ...cps[2], time: '2020-01-01T00:00:00.000Z' }, TEST_KEY);
    expect(verify(events, [cps[0], cps[1], early]).checkpoints).toMatchObject({
      firstBad: 12,
      problem: 'time-reversed',
    });
  });

  it('a checkpoint signed by another key, or altered after signing, or not a checkpoint', () => {
    const other = signingKeyFromSeed(Buffer.alloc(32, 3).toString('base64'), TEST_ORIGIN);
    const forged = checkpointsFor(events, [3, 7, 12], { key: other });
    expect(verify(events, forged).checkpoints).toMatchObject({ ok: false, firstBad: 3, problem: 'bad-signature' });
    const altered = { ...cps[1], text: cps[1].text.replace('\n7\n', '\n8\n') };
    expect(verify(events, [cps[0], altered, cps[2]]).checkpoints).toMatchObject({ problem: 'bad-signature' });
    const junk = { ...cps[1], text: 'not a checkpoint' };
    expect(verify(events, [cps[0], junk, cps[2]]).checkpoints).toMatchObject({ problem: 'malformed', firstBad: 0 });
  });
});

/**
 * Mutation-style: a verifier that says ok to a trail or checkpoint someone altered is the
 * classic failure of such systems, so every single alteration is tried, not a chosen few.
 */
describe('TrailVerifier refuses every single alteration', () => {
  const events = trail(12);
  const cps = checkpointsFor(events, [3, 7, 12]);
  const ok = (evs: AuditEvent[], list: Checkpoint[]) => verify(evs, list).ok;

  it('any character of a signed checkpoint body changed', () => {
    const text = cps[1].text;
    const bodyEnd = text.indexOf('\n\n');
    let tried = 0;
    for (let i = 0; i < bodyEnd; i++) {
      // A neighbouring character: '0'↔'1', 'a'↔'`', '\n'↔'\v' ...
      const changed = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 1) + text.slice(i + 1);
      expect(ok(events, [cps[0], { ...cps[1], text: changed }, cps[2]])).toBe(false);
      tried++;
    }
    expect(tried).toBeGreaterThan(100);
  });

  it('any bit of the signature (key id included) flipped', () => {
    const text = cps[2].text;
    const sig = text.slice(text.lastIndexOf(' ') + 1, -1);
    const bytes = Buffer.from(sig, 'base64');
    expect(bytes).toHaveLength(68);
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0, 7]) {
        const flipped = Buffer.from(bytes);
        flipped[i] ^= 1 << bit;
        const changed = text.slice(0, text.length - 1 - sig.length) + flipped.toString('base64') + '\n';
        expect(ok(events, [cps[0], cps[1], { ...cps[2], text: changed }])).toBe(false);
      }
    }
  });

  it('any hashed field of any event changed, with or without the chain recomputed after it', () => {
    const edits: [string, (b: ReturnType<typeof eventBody>) => ReturnType<typeof eventBody>][] = [
      ['at', (b) => ({ ...b, at: '2026-11-21T12:59:59.000Z' })],
      ['actor', (b) => ({ ...b, actor: { ...b.actor, name: 'someone else' } })],
      ['role', (b) => ({ ...b, actor: { ...b.actor, role: 'auditor' } })],
      ['action', (b) => ({ ...b, action: 'backup.delete' })],
      ['resourceId', (b) => ({ ...b, resourceId: 'other' })],
      ['outcome', (b) => ({ ...b, outcome: 'failure' as const })],
      ['ip', (b) => ({ ...b, ip: '10.0.0.1' })],
      ['requestId', (b) => ({ ...b, requestId: null })],
      ['details', (b) => ({ ...b, details: { note: 'rewritten' } })],
    ];
    const bodies = events.map((e) => eventBody(e.seq));
    for (let seq = 1; seq <= events.length; seq++) {
      for (const [field, edit] of edits) {
        const edited = bodies.map((b) => (b.seq === seq ? edit(b) : b));
        // The row alone edited: its hash no longer matches.
        const raw = events.map((e, i) => (e.seq === seq ? { ...e, ...edited[i] } : e));
        expect([seq, field, ok(raw, cps)]).toEqual([seq, field, false]);
        // Everything after it re-hashed and re-linked: the signed roots no longer match.
        expect([seq, field, ok(rechain(edited), cps)]).toEqual([seq, field, false]);
      }
    }
  });

  it('any event dropped, duplicated or swapped with its neighbour (re-chained), within what checkpoints cover', () => {
    const bodies = events.map((e) => eventBody(e.seq));
    for (let i = 0; i < bodies.length; i++) {
      expect([i, ok(rechain(bodies.filter((_, j) => j !== i)), cps)]).toEqual([i, false]);
      if (i + 1 < bodies.length) {
        // (A copy of the last event would only extend the trail past its last checkpoint: not covered yet.)
        const duplicated = [...bodies.slice(0, i + 1), bodies[i], ...bodies.slice(i + 1)];
        expect([i, ok(rechain(duplicated), cps)]).toEqual([i, false]);
        const swapped = [...bodies];
        [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
        expect([i, ok(rechain(swapped), cps)]).toEqual([i, false]);
      }
    }
  });
});
