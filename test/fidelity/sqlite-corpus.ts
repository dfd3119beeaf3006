/**
 * The SQLite fidelity corpus: one small database per schema feature, and two application
 * schemas (one as an ORM creates it, one with views, triggers and full-text search). Each
 * has a mutation that touches its data the way the application would, for the replace and
 * dry-run half of the round trip. WITHOUT ROWID tables list their key columns first.
 */
export interface CorpusDatabase {
  name: string;
  sql: string;
  mutate: string;
  /** Key columns of WITHOUT ROWID tables, which have no rowid to match rows on. */
  withoutRowidKeys?: Record<string, number>;
}

const INVALID_UTF8 = `CAST(x'41ff42c3' AS TEXT)`;

export const CORPUS: CorpusDatabase[] = [
  {
    name: 'fts5-regular',
    sql: `
      CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'porter unicode61');
      INSERT INTO docs (rowid, title, body) VALUES (3, 'Backups', 'a backup is the whole database'), (7, 'Restore', 'restores give it back'), (9, 'Gone', 'deleted soon');
      DELETE FROM docs WHERE rowid = 9;
      INSERT INTO docs (docs, rank) VALUES ('rank', 'bm25(10.0, 1.0)');`,
    mutate: `INSERT INTO docs (rowid, title, body) VALUES (20, 'New', 'after the backup'); UPDATE docs SET body = 'changed' WHERE rowid = 3;`,
  },
  {
    name: 'fts5-external-content',
    sql: `
      CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);
      CREATE VIRTUAL TABLE posts_fts USING fts5(title, body, content = 'posts', content_rowid = 'id');
      CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body); END;
      CREATE TRIGGER posts_ad AFTER DELETE ON posts BEGIN INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END;
      CREATE TRIGGER posts_au AFTER UPDATE ON posts BEGIN
        INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
      END;
      INSERT INTO posts (id, title, body) VALUES (1, 'first', 'hello world'), (2, 'second', 'full text search'), (5, 'third', 'external content');`,
    mutate: `UPDATE posts SET body = 'rewritten text' WHERE id = 2; DELETE FROM posts WHERE id = 1; INSERT INTO posts (id, title, body) VALUES (9, 'late', 'newer');`,
  },
  {
    name: 'fts5-contentless',
    sql: `
      CREATE VIRTUAL TABLE terms USING fts5(body, content = '', contentless_delete = 1);
      INSERT INTO terms (rowid, body) VALUES (1, 'only the index keeps this'), (2, 'and this'), (4, 'third document');`,
    mutate: `INSERT INTO terms (rowid, body) VALUES (10, 'added later'); DELETE FROM terms WHERE rowid = 2;`,
  },
  {
    name: 'fts4-and-geopoly',
    sql: `
      CREATE VIRTUAL TABLE mail USING fts4(subject, body);
      CREATE VIRTUAL TABLE mail_ext USING fts4(subject, content="inbox");
      CREATE TABLE inbox (docid INTEGER PRIMARY KEY, subject TEXT);
      CREATE VIRTUAL TABLE shapes USING geopoly(label);
      INSERT INTO mail (docid, subject, body) VALUES (2, 'hello', 'first mail'), (6, 'again', 'second mail');
      INSERT INTO inbox VALUES (1, 'quarterly report'), (4, 'lunch');
      INSERT INTO mail_ext (mail_ext) VALUES ('rebuild');
      INSERT INTO shapes (rowid, _shape, label) VALUES (3, '[[0,0],[1,0],[0.5,1],[0,0]]', 'triangle');`,
    mutate: `DELETE FROM mail WHERE docid = 2; INSERT INTO inbox VALUES (9, 'late'); INSERT INTO shapes (rowid, _shape, label) VALUES (8, '[[0,0],[2,0],[2,2],[0,2],[0,0]]', 'square');`,
  },
  {
    name: 'rtree',
    sql: `
      CREATE VIRTUAL TABLE boxes USING rtree(id, min_x, max_x, min_y, max_y, +label);
      INSERT INTO boxes VALUES (1, 0, 10, 0, 10, 'square'), (2, -5.5, 5.25, 1, 2, 'strip'), (8, 100, 200, 100, 200, NULL);`,
    mutate: `UPDATE boxes SET max_x = 11 WHERE id = 1; INSERT INTO boxes VALUES (3, 1, 2, 3, 4, 'new');`,
  },
  {
    name: 'views-triggers',
    sql: `
      CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL, updated_at TEXT);
      CREATE TABLE item_log (id INTEGER PRIMARY KEY, item_id INTEGER, what TEXT);
      CREATE VIEW expensive AS SELECT id, name FROM items WHERE price > 100;
      CREATE VIEW expensive_names AS SELECT name FROM expensive;
      CREATE TRIGGER items_log AFTER UPDATE ON items BEGIN INSERT INTO item_log (item_id, what) VALUES (new.id, 'update'); END;
      CREATE TRIGGER expensive_insert INSTEAD OF INSERT ON expensive BEGIN INSERT INTO items (name, price) VALUES (new.name, 1000); END;
      INSERT INTO items VALUES (1, 'pen', 2, NULL), (2, 'car', 20000, NULL);
      UPDATE items SET updated_at = '2026-01-01' WHERE id = 1;`,
    mutate: `UPDATE items SET price = 3 WHERE id = 1; INSERT INTO expensive (name) VALUES ('boat');`,
  },
  {
    name: 'indexes',
    sql: `
      CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, deleted_at TEXT, name TEXT COLLATE NOCASE);
      CREATE UNIQUE INDEX people_email_live ON people (email) WHERE deleted_at IS NULL;
      CREATE INDEX people_lower_name ON people (lower(name), length(name) DESC);
      CREATE INDEX people_name ON people (name COLLATE BINARY);
      INSERT INTO people VALUES (1, 'a@x', NULL, 'Ann'), (2, 'a@x', '2025-01-01', 'ann'), (3, 'b@x', NULL, 'Bob');`,
    mutate: `UPDATE people SET deleted_at = '2026-02-02' WHERE id = 3; INSERT INTO people VALUES (4, 'c@x', NULL, 'Cy');`,
  },
  {
    name: 'without-rowid',
    sql: `
      CREATE TABLE kv (k TEXT NOT NULL, scope INTEGER NOT NULL, v BLOB, PRIMARY KEY (k, scope)) WITHOUT ROWID;
      INSERT INTO kv VALUES ('a', 1, x'00ff'), ('a', 2, NULL), ('b', 1, x'');`,
    mutate: `UPDATE kv SET v = x'01' WHERE k = 'a' AND scope = 2; INSERT INTO kv VALUES ('c', 3, NULL); DELETE FROM kv WHERE k = 'b';`,
    withoutRowidKeys: { kv: 2 },
  },
  {
    name: 'implicit-rowid-gaps',
    sql: `
      CREATE TABLE events (kind TEXT, payload TEXT);
      CREATE TABLE tagged (code TEXT PRIMARY KEY, label TEXT);
      INSERT INTO events (rowid, kind, payload) VALUES (1, 'a', 'one'), (5, 'b', 'five'), (1000, 'c', 'thousand'), (-3, 'neg', 'negative rowid');
      INSERT INTO tagged (rowid, code, label) VALUES (10, 'x', 'ten'), (2, 'y', 'two'), (77, 'z', NULL);
      DELETE FROM events WHERE rowid = 5;`,
    mutate: `UPDATE events SET payload = 'changed' WHERE rowid = 1; DELETE FROM events WHERE rowid = -3; UPDATE tagged SET label = 'TWO' WHERE code = 'y'; INSERT INTO events (kind) VALUES ('late');`,
  },
  {
    name: 'autoincrement',
    sql: `
      CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT);
      INSERT INTO orders (ref) VALUES ('o1'), ('o2'), ('o3'), ('o4');
      DELETE FROM orders WHERE id IN (2, 4);`,
    mutate: `INSERT INTO orders (ref) VALUES ('o5'); UPDATE orders SET ref = 'first' WHERE id = 1;`,
  },
  {
    name: 'invalid-utf8-and-blobs',
    sql: `
      CREATE TABLE texts (id INTEGER PRIMARY KEY, t TEXT, anything, b BLOB);
      INSERT INTO texts VALUES (1, ${INVALID_UTF8}, CAST(x'eda080' AS TEXT), x'00010203ff');
      INSERT INTO texts VALUES (2, 'valid ünïcödé 𝄞', CAST(x'80' AS TEXT), x'');
      INSERT INTO texts VALUES (3, CAST(x'22ff5c0a' AS TEXT), 'a "quoted" \\ text', NULL);
      INSERT INTO texts VALUES (4, CAST(x'c0' AS TEXT), CAST(x'f4908080' AS TEXT), zeroblob(3));`,
    mutate: `UPDATE texts SET t = 'now valid' WHERE id = 1; INSERT INTO texts VALUES (5, CAST(x'fe' AS TEXT), NULL, NULL);`,
  },
  {
    name: 'numbers',
    sql: `
      CREATE TABLE nums (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, x);
      INSERT INTO nums VALUES (1, 9223372036854775807, -0.0, '12.50', 1.0);
      INSERT INTO nums VALUES (2, -9223372036854775808, 0.1, 1e400, -1e400);
      INSERT INTO nums VALUES (3, 9007199254740993, 5e-324, 'abc', 9007199254740993);
      INSERT INTO nums VALUES (4, 0, 0.0 / 0.0, NULL, 1.7976931348623157e308);`,
    mutate: `UPDATE nums SET r = 2.5 WHERE id = 1; INSERT INTO nums VALUES (5, 1, 1.0, 1, 1);`,
  },
  {
    name: 'pragmas-wal',
    sql: `
      PRAGMA journal_mode = WAL;
      PRAGMA user_version = 42;
      PRAGMA application_id = 1234567;
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
      INSERT INTO settings VALUES ('theme', 'dark');`,
    mutate: `UPDATE settings SET value = 'light' WHERE key = 'theme';`,
  },
  {
    name: 'pragmas-file',
    sql: `
      PRAGMA page_size = 8192;
      PRAGMA auto_vacuum = INCREMENTAL;
      PRAGMA user_version = 7;
      CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
      INSERT INTO t VALUES (1, 'x');`,
    mutate: `DELETE FROM t;`,
  },
  {
    name: 'strict-generated',
    sql: `
      CREATE TABLE measures (id INTEGER PRIMARY KEY, w INTEGER NOT NULL, h REAL NOT NULL, label TEXT, data BLOB, a ANY,
        area REAL GENERATED ALWAYS AS (w * h) STORED, tag TEXT AS (upper(label)) VIRTUAL) STRICT;
      INSERT INTO measures (id, w, h, label, data, a) VALUES (1, 2, 3.5, 'box', x'01', 'text in ANY'), (2, 4, 1, NULL, NULL, 5);`,
    mutate: `UPDATE measures SET w = 10 WHERE id = 1;`,
  },
  {
    name: 'foreign-keys-cascade',
    sql: `
      CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
      CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE ON UPDATE CASCADE, title TEXT);
      CREATE TABLE chapters (book_id INTEGER REFERENCES books (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED, n INTEGER, PRIMARY KEY (book_id, n));
      INSERT INTO authors VALUES (1, 'A'), (2, 'B');
      INSERT INTO books VALUES (10, 1, 'one'), (11, 2, 'two');
      INSERT INTO chapters VALUES (10, 1), (10, 2), (11, 1);`,
    mutate: `PRAGMA foreign_keys = ON; DELETE FROM authors WHERE id = 2; UPDATE books SET title = 'uno' WHERE id = 10;`,
  },
  {
    name: 'odd-names',
    sql: `
      CREATE TABLE "Order Items" ("Id" INTEGER PRIMARY KEY, "select" TEXT, "quote""d" TEXT, [bracket col] INTEGER, \`tick\` TEXT);
      CREATE TABLE "ÜberTabelle" ("ключ" TEXT PRIMARY KEY, "値" TEXT);
      CREATE INDEX "idx with space" ON "Order Items" ("select");
      CREATE VIEW "a view" AS SELECT "Id", "quote""d" FROM "Order Items";
      INSERT INTO "Order Items" VALUES (1, 'from', 'q', 3, 't');
      INSERT INTO "ÜberTabelle" VALUES ('k', 'v');`,
    mutate: `UPDATE "Order Items" SET "select" = 'where' WHERE "Id" = 1; INSERT INTO "ÜberTabelle" VALUES ('k2', NULL);`,
  },
  {
    // As TypeORM's SQLite driver creates tables (quoted names, CHECK for enums, varchar, datetime defaults, a join table).
    name: 'app-orm',
    sql: `
      CREATE TABLE "user" ("id" varchar PRIMARY KEY NOT NULL, "email" varchar NOT NULL, "role" varchar CHECK( "role" IN ('admin','member') ) NOT NULL DEFAULT ('member'), "createdAt" datetime NOT NULL DEFAULT (datetime('now')), "isActive" boolean NOT NULL DEFAULT (1), CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email"));
      CREATE TABLE "project" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(120) NOT NULL, "ownerId" varchar, "settings" text NOT NULL DEFAULT ('{}'), CONSTRAINT "FK_9884b2ee80eb70b7db4f12e8aed" FOREIGN KEY ("ownerId") REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION);
      CREATE TABLE "project_members_user" ("projectId" integer NOT NULL, "userId" varchar NOT NULL, CONSTRAINT "FK_a" FOREIGN KEY ("projectId") REFERENCES "project" ("id") ON DELETE CASCADE, CONSTRAINT "FK_b" FOREIGN KEY ("userId") REFERENCES "user" ("id") ON DELETE CASCADE, PRIMARY KEY ("projectId", "userId"));
      CREATE INDEX "IDX_9f0b8a1c2d" ON "project_members_user" ("projectId");
      CREATE TABLE "migrations" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "timestamp" bigint NOT NULL, "name" varchar NOT NULL);
      CREATE TABLE "audit_entry" ("action" varchar NOT NULL, "at" datetime NOT NULL, "meta" text);
      INSERT INTO "user" VALUES ('7d1c3c2e-1', 'a@example.com', 'admin', '2026-01-01 10:00:00', 1), ('7d1c3c2e-2', 'b@example.com', 'member', '2026-01-02 10:00:00', 0);
      INSERT INTO "project" ("name", "ownerId") VALUES ('Apollo', '7d1c3c2e-1'), ('Gemini', '7d1c3c2e-2');
      INSERT INTO "project_members_user" VALUES (1, '7d1c3c2e-1'), (1, '7d1c3c2e-2'), (2, '7d1c3c2e-2');
      INSERT INTO "migrations" ("timestamp", "name") VALUES (1700000000000, 'Init1700000000000'), (1710000000000, 'AddProjects1710000000000');
      INSERT INTO "audit_entry" VALUES ('login', '2026-01-01', NULL), ('login', '2026-01-01', NULL);
      PRAGMA user_version = 2;`,
    mutate: `UPDATE "user" SET "role" = 'admin' WHERE "id" = '7d1c3c2e-2'; DELETE FROM "project_members_user" WHERE "projectId" = 2; INSERT INTO "project" ("name", "ownerId") VALUES ('Mercury', NULL); INSERT INTO "audit_entry" VALUES ('logout', '2026-03-01', '{}');`,
  },
  {
    // A notes application: views, triggers keeping history and a full-text index in step, FTS over external content.
    name: 'app-notes',
    sql: `
      CREATE TABLE notebooks (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE);
      CREATE TABLE notes (id INTEGER PRIMARY KEY, notebook_id INTEGER NOT NULL REFERENCES notebooks (id) ON DELETE CASCADE, title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)));
      CREATE TABLE note_history (note_id INTEGER NOT NULL, body TEXT, changed_at TEXT);
      CREATE INDEX notes_by_notebook ON notes (notebook_id, updated_at DESC) WHERE archived = 0;
      CREATE VIRTUAL TABLE notes_search USING fts5(title, body, content = 'notes', content_rowid = 'id');
      CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_search (rowid, title, body) VALUES (new.id, new.title, new.body); END;
      CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN INSERT INTO notes_search (notes_search, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END;
      CREATE TRIGGER notes_au AFTER UPDATE OF title, body ON notes BEGIN
        INSERT INTO notes_search (notes_search, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO notes_search (rowid, title, body) VALUES (new.id, new.title, new.body);
        INSERT INTO note_history (note_id, body, changed_at) VALUES (old.id, old.body, '2026-01-01');
      END;
      CREATE VIEW active_notes AS SELECT n.id, n.title, b.title AS notebook FROM notes n JOIN notebooks b ON b.id = n.notebook_id WHERE n.archived = 0;
      CREATE VIEW notebook_counts AS SELECT notebook, count(*) AS n FROM active_notes GROUP BY notebook;
      CREATE VIRTUAL TABLE tags_index USING fts5(tag);
      INSERT INTO notebooks VALUES (1, 'Work'), (2, 'Home');
      INSERT INTO notes (id, notebook_id, title, body, updated_at) VALUES (1, 1, 'Standup', 'talk about backups', '2026-01-01'), (2, 1, 'Plan', 'restore drills', '2026-01-02'), (3, 2, 'Groceries', 'milk, eggs', '2026-01-03');
      UPDATE notes SET body = 'talk about verified backups' WHERE id = 1;
      INSERT INTO tags_index (rowid, tag) VALUES (1, 'urgent'), (2, 'later');
      PRAGMA user_version = 5;`,
    mutate: `UPDATE notes SET body = 'oat milk' WHERE id = 3; DELETE FROM notes WHERE id = 2; INSERT INTO notes (id, notebook_id, title, body, updated_at) VALUES (7, 2, 'New', 'fresh', '2026-04-01'); INSERT INTO tags_index (rowid, tag) VALUES (5, 'someday');`,
  },
];
