/** Docs are part of the feature: every configuration variable is documented, and the README's table is current. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';

const ROOT = join(__dirname, '../..');

describe('configuration docs', () => {
  const variables = Object.keys(new AppConfig());
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('.env.example lists every variable with a meaning', () => {
    const missing = variables.filter((v) => !new RegExp(`^${v}=.*#\\s*\\S`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('the README configuration table is generated from .env.example and up to date', () => {
    const table = execFileSync(process.execPath, [join(ROOT, 'scripts/config-table.js')], { encoding: 'utf8' });
    const start = readme.indexOf('<!-- config-table:start');
    const end = readme.indexOf('<!-- config-table:end -->');
    const current = readme.slice(readme.indexOf('\n', start) + 1, end);
    expect(current).toBe(table);
  });

  it('links only to files a clone of this repository has', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1])
      .filter((l) => !/^[a-z]+:/.test(l));
    expect(links).toEqual(expect.arrayContaining(['docs/architecture.md', 'docs/api.md']));
    expect(links.filter((l) => !existsSync(join(ROOT, l)))).toEqual([]);
    expect(readme).not.toMatch(/\.\.\/shared/);
  });
});
