/**
 * Crafting archives the way an attacker would: take a real backup directory, change its
 * manifest (recomputing the checksum, as anyone can), optionally seal it with a key the test
 * holds, and pack it as a tar, with no help from the code under test's checks.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as tar from 'tar-stream';
import { serializeManifest } from '../../src/engine/archive/manifest';
import { sealManifest, type MacSeal } from '../../src/engine/archive/manifest-auth';
import type { Manifest } from '../../src/engine/archive/manifest.types';

export type ManifestBody = Omit<Manifest, 'checksum'>;

export interface BackupFiles {
  manifest: ManifestBody;
  /** Every part, by its name in the manifest (`parts/...`). */
  parts: Map<string, Buffer>;
}

/** Reads a backup directory of local storage (`<BACKUP_DIR>/backups/<id>`). */
export function readBackupDir(dir: string): BackupFiles {
  const { checksum: _c, ...manifest } = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const parts = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else parts.set(relative(dir, full), readFileSync(full));
    }
  };
  walk(join(dir, 'parts'));
  return { manifest, parts };
}

/** The manifest bytes: without a MAC unless `seal` is given (a MAC of the original would not match a changed body anyway). */
export function manifestBytes(body: ManifestBody, seal?: MacSeal): Buffer {
  const { mac: _mac, ...unsealed } = body;
  return serializeManifest(seal ? sealManifest(unsealed, seal) : unsealed);
}

/** Writes a backup directory (e.g. planted straight into storage). */
export function writeBackupDir(dir: string, parts: Map<string, Buffer>, manifest: Buffer): void {
  for (const [name, data] of parts) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), manifest);
}

/** A tar of the parts, then the manifest, as `download` produces. */
export async function packTar(parts: Map<string, Buffer>, manifest: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const [name, data] of parts) pack.entry({ name, size: data.length, mode: 0o600 }, data);
  pack.entry({ name: 'manifest.json', size: manifest.length, mode: 0o600 }, manifest);
  pack.finalize();
  return done;
}

/** The keyring entry `id:base64` as a seal. */
export function sealOf(keyring: string): MacSeal {
  const [keyId, b64] = keyring.split(':');
  return { keyId, master: Buffer.from(b64, 'base64') };
}
