import { AuditChainVerifier } from './audit-chain-verifier';
import { AuditBody, AuditEvent, computeAuditHash, GENESIS_HASH } from '../engine/audit/audit-hash';
import { eventBody, rechain } from '../engine/audit/trail.fixture';

/** A sound chain of n events (the engine's test trail, with nested details to canonicalize). */
function chain(n: number): AuditEvent[] {
  return rechain(
    Array.from({ length: n }, (_, i) => ({ ...eventBody(i + 1), details: { status: 202, nested: { n: i + 1 } } })),
  );
}

function verify(events: AuditEvent[], head: { seq: number; hash: string } | null) {
  const v = new AuditChainVerifier(head);
  for (const e of events) if (!v.push(e)) break;
  return v.finish();
}

const headOf = (events: AuditEvent[]) => ({ seq: events[events.length - 1].seq, hash: events[events.length - 1].hash });

describe('AuditChainVerifier', () => {
  it('accepts an intact chain and reports its head', () => {
    const events = chain(10);
    const r = verify(events, headOf(events));
    expect(r).toMatchObject({ ok: true, checked: 10, firstBadSeq: null, head: headOf(events) });
  });

  it('accepts an empty chain', () => {
    expect(verify([], null)).toMatchObject({ ok: true, checked: 0, head: null });
  });

  // Flip one character in every field, in a middle event: each must be caught at that seq.
  const mutations: [string, (e: AuditEvent) => void][] = [
    ['at', (e) => (e.at = e.at.replace('12:', '13:'))],
    ['actor.name', (e) => (e.actor = { ...e.actor, name: 'opz' })],
    ['actor.role', (e) => (e.actor = { ...e.actor, role: 'auditor' })],
    ['actor.keyId', (e) => (e.actor = { ...e.actor, keyId: null })],
    ['actor.type', (e) => (e.actor = { ...e.actor, type: 'system' })],
    ['action', (e) => (e.action = 'backup.delete')],
    ['resource', (e) => (e.resource = 'recovery')],
    ['resourceId', (e) => (e.resourceId = 'id-x')],
    ['outcome', (e) => (e.outcome = 'failure')],
    ['ip', (e) => (e.ip = '127.0.0.2')],
    ['userAgent', (e) => (e.userAgent = 'jesT')],
    ['requestId', (e) => (e.requestId = 'req-0')],
    ['details', (e) => (e.details = { status: 203, nested: { n: 5 } })],
    ['hash', (e) => (e.hash = e.hash.slice(0, -1) + (e.hash.endsWith('0') ? '1' : '0'))],
  ];
  it.each(mutations)('catches a change to %s at its seq', (_name, mutate) => {
    const events = chain(9);
    const head = headOf(events);
    mutate(events[4]);
    const r = verify(events, head);
    expect(r.ok).toBe(false);
    expect(r.firstBadSeq).toBe(5);
    expect(r.problem).toBe('hash-mismatch');
  });

  it('catches a changed prevHash as a broken link', () => {
    const events = chain(6);
    events[3].prevHash = events[1].hash;
    const r = verify(events, headOf(events));
    expect(r).toMatchObject({ ok: false, firstBadSeq: 4, problem: 'broken-link' });
  });

  it('catches a deleted middle row as a seq gap', () => {
    const events = chain(8);
    const head = headOf(events);
    events.splice(3, 1);
    expect(verify(events, head)).toMatchObject({ ok: false, firstBadSeq: 4, problem: 'seq-gap' });
  });

  it('catches a deleted tail against the recorded head', () => {
    const events = chain(8);
    const head = headOf(events);
    expect(verify(events.slice(0, 6), head)).toMatchObject({ ok: false, firstBadSeq: 7, problem: 'truncated-tail' });
  });

  it('catches a re-hashed chain whose head record disagrees', () => {
    const events = chain(6);
    const head = headOf(events);
    // An attacker rewrites seq 3 and recomputes every later hash: the links are all valid...
    events[2].details = { status: 500 };
    let prev = events[1].hash;
    for (const e of events.slice(2)) {
      const { prevHash: _p, hash: _h, ...body } = e;
      e.prevHash = prev;
      e.hash = computeAuditHash(body, prev);
      prev = e.hash;
    }
    // ...but the head recorded at append time no longer matches.
    expect(verify(events, head)).toMatchObject({ ok: false, firstBadSeq: 6, problem: 'head-mismatch' });
  });

  it('lets events appended after the head was read extend the chain', () => {
    const events = chain(7);
    expect(verify(events, { seq: 5, hash: events[4].hash })).toMatchObject({ ok: true, checked: 7 });
  });
});

describe('computeAuditHash', () => {
  it('matches a fixed test vector', () => {
    const body: AuditBody = {
      seq: 1,
      at: '2026-11-21T00:00:00.000Z',
      actor: { type: 'system', keyId: null, name: 'strongroom', role: null },
      action: 'system.start',
      resource: 'system',
      resourceId: null,
      outcome: 'success',
      ip: null,
      userAgent: null,
      requestId: null,
      details: {},
    };
    // Recomputed independently: sha256("AUDIT-v1\0" || 0000000000000001 || 00*32 || sha256(JCS(body))).
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const jcs =
      '{"action":"system.start","actor":{"keyId":null,"name":"strongroom","role":null,"type":"system"},"at":"2026-11-21T00:00:00.000Z","details":{},"ip":null,"outcome":"success","requestId":null,"resource":"system","resourceId":null,"seq":1,"userAgent":null}';
    const inner = createHash('sha256').update(jcs).digest();
    const expected = createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from('AUDIT-v1\0', 'latin1'),
          Buffer.from('0000000000000001', 'hex'),
          Buffer.alloc(32),
          inner,
        ]),
      )
      .digest('hex');
    expect(computeAuditHash(body, GENESIS_HASH)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });
});
