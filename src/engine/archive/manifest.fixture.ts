/** A complete, valid manifest for tests; parts are placeholders unless overridden. */
import type { Manifest, PartInfo } from './manifest.types';

export const HASH = 'a'.repeat(64);

export function fakePart(name: string): PartInfo {
  return { name, size: 10, sha256: HASH, rawBytes: 20, rawSha256: 'b'.repeat(64) };
}

export function sampleManifest(overrides: Partial<Manifest> = {}): Omit<Manifest, 'checksum'> {
  return {
    format: 'strongroom-backup',
    formatVersion: 1,
    id: '6f1c2a8e-0000-4000-8000-000000000001',
    type: 'full',
    trigger: 'manual',
    description: 'nightly – ünïcode ✓',
    tags: ['a'],
    scheduleId: null,
    appVersion: '1.0.0',
    createdAt: '2024-01-01T00:00:00.000Z',
    startedAt: '2024-01-01T00:00:00.000Z',
    finishedAt: '2024-01-01T00:00:01.000Z',
    engine: { name: 'sqlite', serverVersion: '3.45.0', encoding: 'sqlite-ndjson' },
    schema: { fingerprint: HASH, migrations: [], part: fakePart('parts/schema.sql') },
    tables: [
      {
        name: 'users',
        rows: 2,
        bytes: 20,
        sha256: HASH,
        structure: {
          name: 'users',
          columns: [],
          primaryKey: ['id'],
          foreignKeys: [],
        } as unknown as Manifest['tables'][0]['structure'],
        part: fakePart('parts/0001.rows'),
      },
    ],
    sequences: [],
    files: { count: 0, bytes: 0, roots: [], part: null },
    compression: 'zstd',
    encryption: { algorithm: 'AES-256-GCM', keyId: 'k1', frameSize: 65536 },
    auditHead: { seq: 3, hash: HASH },
    ...overrides,
  };
}
