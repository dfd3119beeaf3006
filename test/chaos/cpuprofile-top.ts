/**
 * Where a V8 CPU profile (from `--cpu-profile` of the concurrent-readers family, or node
 * --cpu-prof) spends its time: self time by function, and inclusive time by package
 * (node_modules/<name>, node internals, the service's own dist/src/<dir>).
 *   npx ts-node --transpile-only test/chaos/cpuprofile-top.ts <file.cpuprofile> [top N]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function bucket(url: string): string {
  if (!url) return '';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  const own = /dist\/src\/([^/]+)/.exec(url) ?? /\/src\/([^/]+)/.exec(url);
  return own ? `strongroom ${own[1]}` : url;
}

export function summarize(p: Profile, top = 30): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${n.callFrame.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + t);
    // Inclusive by package: each package on the sample's stack counts once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
      seen.add(bucket(byId.get(cur)!.callFrame.url));
    seen.delete('');
    if (!seen.size) seen.add('(native only: gc, idle, profiler)');
    for (const b of seen) pkg.set(b, (pkg.get(b) ?? 0) + t);
  }
  // Self time by package, a native frame (SQLite's step, a socket write) charged to the package that called it.
  const selfPkg = new Map<string, number>();
  for (const [id, t] of self) {
    let b = '';
    for (let cur: number | undefined = id; cur !== undefined && !b; cur = parent.get(cur))
      b = bucket(byId.get(cur)!.callFrame.url);
    const name = b || `(${byId.get(id)!.callFrame.functionName || 'native'})`;
    selfPkg.set(name, (selfPkg.get(name) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1)} %`;
  const lines = [`profile: ${(total / 1000).toFixed(0)} ms sampled`, '', 'self time by function:'];
  for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t).padStart(7)}  ${k}`);
  lines.push('', 'self time by package (native code charged to its JS caller):');
  for (const [k, t] of [...selfPkg].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(t).padStart(7)}  ${k}`);
  lines.push('', 'inclusive time by package (a sample counts for every package on its stack):');
  for (const [k, t] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t).padStart(7)}  ${k}`);
  return lines.join('\n');
}

if (require.main === module) {
  const [file, n] = process.argv.slice(2);
  if (!file) throw new Error('usage: cpuprofile-top.ts <file.cpuprofile> [top N]');
  process.stdout.write(`${summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, n ? Number(n) : 30)}\n`);
}
