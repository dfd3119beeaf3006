/**
 * Child process for the kill-mid-restore test: starts a replace restore whose row stream never
 * ends, says "midway" once thousands of rows are written inside the open transaction, then
 * waits to be killed.
 */
import { Readable } from 'node:stream';
import { createSqliteDialect } from './sqlite.dialect';

const url = process.argv[2];
const dialect = createSqliteDialect(url, { batchRows: 500 });
let i = 0;
const endless = new Readable({
  read() {
    let chunk = '';
    for (let n = 0; n < 500; n++, i++) chunk += `[${i + 1},"restored ${i + 1}"]\n`;
    this.push(chunk);
  },
});
let told = false;
void dialect.restore({
  encoding: 'sqlite-ndjson',
  sequences: [],
  tables: [
    {
      name: 'items',
      mode: 'replace',
      table: {
        name: 'items',
        primaryKey: ['id'],
        foreignKeys: [],
        columns: [
          { name: 'id', type: 'INTEGER', nullable: true, generated: false },
          { name: 'label', type: 'TEXT', nullable: true, generated: false },
        ],
      },
      open: async () => endless,
    },
  ],
  onProgress: ({ rows }) => {
    if (!told && rows >= 5000) {
      told = true;
      process.stdout.write('midway\n');
    }
  },
});
