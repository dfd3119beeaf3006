// Prints the README's configuration table from .env.example (the single source of the
// variables' defaults and meanings): node scripts/config-table.js
const { readFileSync } = require('node:fs');

const rows = ['| Variable | Default | Meaning |', '|---|---|---|'];
let section = '';
for (const line of readFileSync(`${__dirname}/../.env.example`, 'utf8').split('\n')) {
  const head = /^# --- (.*) ---$/.exec(line);
  if (head) {
    section = head[1];
    rows.push(`| **${section}** | | |`);
    continue;
  }
  const m = /^([A-Z0-9_]+)=(.*?)(?:\s+#\s*(.*))?$/.exec(line);
  if (!m) continue;
  const [, name, value, meaning = ''] = m;
  const esc = (s) => s.replace(/\|/g, '\\|');
  rows.push(`| \`${name}\` | ${value.trim() ? `\`${esc(value.trim())}\`` : '—'} | ${esc(meaning)} |`);
}
process.stdout.write(`${rows.join('\n')}\n`);
