/** Test helpers for file-artefact archives: hand-made (hostile) tars and snapshots of real directory trees. */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar-stream';

export interface CraftedEntry {
  header: Partial<tar.Header> & { name: string };
  body?: string;
}

/** A tar holding exactly these entries, in order, whatever they claim to be. */
export async function craftTar(entries: CraftedEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const body = e.body === undefined ? undefined : Buffer.from(e.body);
    await new Promise<void>((res, rej) => {
      const header = { mode: 0o644, ...e.header, ...(body ? { size: body.length } : {}) };
      if (body) pack.entry(header, body, (err) => (err ? rej(err) : res()));
      else pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Every path under `dir` (links not followed): "dir", "link -> target", or the file's content. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[rel] = 'dir';
        walk(full, rel);
      } else if (st.isFile()) out[rel] = readFileSync(full, 'utf8');
      else out[rel] = 'special';
    }
  };
  walk(dir, '');
  return out;
}
