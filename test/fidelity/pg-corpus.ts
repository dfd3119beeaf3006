/**
 * The PostgreSQL fidelity corpus: small databases with one schema feature each, and two
 * realistic application schemas. Each case has its setup SQL, a mutation of the restored copy,
 * and the plan a replace restore must then announce for the tables with a primary key
 * (tables without one are always planned as "delete all, insert all").
 */
export interface CorpusCase {
  name: string;
  setup: string;
  /** Applied to the restored database; only explicit ids, so no sequence moves. */
  mutate: string;
  /** Per table (display name), the changes the replace must undo. */
  expect: Record<string, { insert: number; update: number; delete: number }>;
}

const ROLES = `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fidelity_reader') THEN CREATE ROLE fidelity_reader; END IF; END $$;`;

/** One of (nearly) every kind of object an application database holds. */
export const KITCHEN_SINK = `
  CREATE EXTENSION citext;
  CREATE SCHEMA app;
  CREATE TYPE app.mood AS ENUM ('ok', 'sad');
  CREATE DOMAIN app.percent AS int CHECK (VALUE BETWEEN 0 AND 100);
  CREATE TYPE app.pair AS (a int, b int);
  CREATE TYPE app.intspan AS RANGE (subtype = int4);
  CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
  CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
  CREATE AGGREGATE app.total(int) (sfunc = app.add, stype = int, initcond = '0');
  CREATE OPERATOR app.<~> (leftarg = int, rightarg = int, function = app.add);
  CREATE TEXT SEARCH CONFIGURATION app.english_copy (COPY = pg_catalog.english);
  CREATE SEQUENCE app.counter;
  CREATE TABLE app.things (id int PRIMARY KEY, name citext UNIQUE, mood app.mood, pct app.percent, CHECK (id > 0), EXCLUDE USING btree (pct WITH =));
  CREATE TABLE app.parts (id int, thing_id int REFERENCES app.things, at date NOT NULL) PARTITION BY RANGE (at);
  CREATE TABLE app.parts_2024 PARTITION OF app.parts FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE INDEX things_mood ON app.things (mood);
  CREATE VIEW app.sad_things AS SELECT * FROM app.things WHERE mood = 'sad';
  CREATE MATERIALIZED VIEW app.counts AS SELECT mood, count(*) FROM app.things GROUP BY mood;
  CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
  CREATE TRIGGER things_trg BEFORE INSERT ON app.things FOR EACH ROW EXECUTE FUNCTION app.trg();
  CREATE RULE things_no_delete AS ON DELETE TO app.things WHERE OLD.id = 0 DO INSTEAD NOTHING;
  ALTER TABLE app.things ENABLE ROW LEVEL SECURITY;
  CREATE POLICY things_all ON app.things USING (true);
  CREATE PUBLICATION app_pub FOR TABLE app.things;
  COMMENT ON TABLE app.things IS 'things';
  SELECT lo_from_bytea(0, 'blob');
  INSERT INTO app.things VALUES (1, 'one', 'ok', 50);`;

export const CORPUS: CorpusCase[] = [
  {
    name: 'one object of every kind (extension, types, collation, operator, aggregate, procedure, text search, publication, RLS...)',
    setup: KITCHEN_SINK,
    mutate: `UPDATE app.things SET mood = 'sad' WHERE id = 1;`,
    expect: { 'app.things': { insert: 0, update: 1, delete: 0 } },
  },
  {
    name: 'other schema with cross-schema foreign key and its own sequence and function',
    setup: `
      CREATE SCHEMA billing;
      CREATE SEQUENCE billing.invoice_no START 1000;
      CREATE FUNCTION billing.next_invoice() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('billing.invoice_no') $$;
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE billing.invoices (no bigint PRIMARY KEY DEFAULT billing.next_invoice(), customer_id int NOT NULL REFERENCES customers(id), total numeric(12,2));
      INSERT INTO customers VALUES (1, 'ada'), (2, 'bob');
      INSERT INTO billing.invoices (customer_id, total) VALUES (1, 10.5), (2, 20), (1, 30.25);`,
    mutate: `DELETE FROM billing.invoices WHERE no = 1001; UPDATE customers SET name = 'carol' WHERE id = 2;`,
    expect: { 'billing.invoices': { insert: 1, update: 0, delete: 0 }, customers: { insert: 0, update: 1, delete: 0 } },
  },
  {
    name: 'partition in another schema with a foreign key declared on a partition',
    setup: `
      CREATE SCHEMA archive;
      CREATE TABLE accounts (id int PRIMARY KEY);
      CREATE TABLE events (id int, at date NOT NULL, account_id int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE archive.events_old PARTITION OF events FOR VALUES FROM ('2000-01-01') TO ('2024-01-01');
      CREATE TABLE events_default PARTITION OF events DEFAULT;
      ALTER TABLE archive.events_old ADD CONSTRAINT events_old_account FOREIGN KEY (account_id) REFERENCES accounts(id);
      INSERT INTO accounts VALUES (1), (2);
      INSERT INTO events VALUES (1, '2024-03-01', 1), (2, '2010-05-05', 2), (3, '2030-01-01', 1);`,
    mutate: `DELETE FROM events WHERE id = 2; INSERT INTO events VALUES (4, '2024-04-04', 2);`,
    expect: { events: { insert: 1, update: 0, delete: 1 } },
  },
  {
    name: 'extensions: citext, hstore, pg_trgm, btree_gist, uuid-ossp',
    setup: `
      CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm; CREATE EXTENSION btree_gist; CREATE EXTENSION "uuid-ossp";
      CREATE TABLE people (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), email citext UNIQUE, attrs hstore, room int, during tstzrange,
        EXCLUDE USING gist (room WITH =, during WITH &&));
      CREATE INDEX people_email_trgm ON people USING gin ((email::text) gin_trgm_ops);
      INSERT INTO people (id, email, attrs, room, during) VALUES
        ('00000000-0000-0000-0000-000000000001', 'Ada@Example.com', 'a=>1', 1, '[2024-01-01,2024-01-02)'),
        ('00000000-0000-0000-0000-000000000002', 'bob@example.com', 'b=>2', 1, '[2024-01-03,2024-01-04)');`,
    mutate: `UPDATE people SET attrs = 'c=>3' WHERE email = 'ada@example.com';`,
    expect: { people: { insert: 0, update: 1, delete: 0 } },
  },
  {
    name: 'domains, composite and range types',
    setup: `
      CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
      CREATE TYPE money_amount AS (amount numeric, currency char(3));
      CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
      CREATE TABLE items (id positive_int PRIMARY KEY, price money_amount, size floatrange);
      INSERT INTO items VALUES (1, ROW(9.99, 'EUR'), '[1.5,2.5)'), (2, ROW(1, 'USD'), '(,3]');`,
    mutate: `UPDATE items SET price = ROW(5, 'GBP') WHERE id = 1;`,
    expect: { items: { insert: 0, update: 1, delete: 0 } },
  },
  {
    name: 'views and a materialized view',
    setup: `
      CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL);
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 10;
      CREATE MATERIALIZED VIEW order_totals AS SELECT count(*) AS n, sum(amount) AS total FROM orders;
      CREATE UNIQUE INDEX order_totals_n ON order_totals (n);
      INSERT INTO orders VALUES (1, 5), (2, 50);
      REFRESH MATERIALIZED VIEW order_totals;`,
    mutate: `INSERT INTO orders VALUES (3, 7);`,
    expect: { orders: { insert: 0, update: 0, delete: 1 } },
  },
  {
    name: 'free-standing and descending sequences',
    setup: `
      CREATE SEQUENCE ticket_no START 500;
      CREATE SEQUENCE countdown INCREMENT -1 START 100 MAXVALUE 100;
      SELECT nextval('ticket_no'), nextval('ticket_no'), nextval('countdown'), nextval('countdown'), nextval('countdown');
      CREATE TABLE tickets (id int PRIMARY KEY);
      INSERT INTO tickets VALUES (1);`,
    mutate: `INSERT INTO tickets VALUES (2);`,
    expect: { tickets: { insert: 0, update: 0, delete: 1 } },
  },
  {
    name: 'NOT VALID check constraint over rows that break it',
    setup: `
      CREATE TABLE readings (id int PRIMARY KEY, value int);
      INSERT INTO readings VALUES (1, -5), (2, 10);
      ALTER TABLE readings ADD CONSTRAINT readings_positive CHECK (value > 0) NOT VALID;`,
    mutate: `DELETE FROM readings WHERE id = 2;`,
    expect: { readings: { insert: 1, update: 0, delete: 0 } },
  },
  {
    name: 'table inheritance',
    setup: `
      CREATE TABLE vehicles (id int PRIMARY KEY, name text);
      CREATE TABLE cars (doors int) INHERITS (vehicles);
      ALTER TABLE cars ADD PRIMARY KEY (id);
      INSERT INTO vehicles VALUES (1, 'bike');
      INSERT INTO cars VALUES (2, 'sedan', 4), (3, 'coupe', 2);`,
    mutate: `UPDATE ONLY vehicles SET name = 'trike' WHERE id = 1; DELETE FROM cars WHERE id = 3;`,
    expect: { vehicles: { insert: 0, update: 1, delete: 0 }, cars: { insert: 1, update: 0, delete: 0 } },
  },
  {
    name: 'large objects with owner and grant',
    setup: `
      ${ROLES}
      SELECT lo_from_bytea(0, 'hello large object');
      DO $$ DECLARE o oid; BEGIN o := lo_from_bytea(0, decode(repeat('ab', 70000), 'hex')); EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO fidelity_reader', o); END $$;
      CREATE TABLE docs (id int PRIMARY KEY, body oid);
      INSERT INTO docs SELECT 1, min(oid) FROM pg_largeobject_metadata;`,
    mutate: `UPDATE docs SET body = 0 WHERE id = 1;`,
    expect: { docs: { insert: 0, update: 1, delete: 0 } },
  },
  {
    name: 'zero-column table',
    setup: `CREATE TABLE marks (); INSERT INTO marks DEFAULT VALUES; INSERT INTO marks DEFAULT VALUES; INSERT INTO marks DEFAULT VALUES;`,
    mutate: `INSERT INTO marks DEFAULT VALUES;`,
    expect: {},
  },
  {
    name: 'grants, RLS policy, triggers, rules, generated and identity columns, quoted CamelCase names',
    setup: `
      ${ROLES}
      CREATE TABLE "UserAccount" ("Id" int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "FirstName" text, "LastName" text,
        "FullName" text GENERATED ALWAYS AS ("FirstName" || ' ' || "LastName") STORED, "UpdatedAt" timestamptz);
      CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW."UpdatedAt" := '2000-01-01'; RETURN NEW; END $$;
      CREATE TRIGGER "UserAccount_touch" BEFORE UPDATE ON "UserAccount" FOR EACH ROW EXECUTE FUNCTION touch();
      CREATE RULE log_delete AS ON DELETE TO "UserAccount" DO ALSO INSERT INTO audit_log (note) VALUES ('deleted ' || OLD."Id");
      ALTER TABLE "UserAccount" ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_rows ON "UserAccount" FOR SELECT TO fidelity_reader USING ("FirstName" = current_user);
      GRANT SELECT ON "UserAccount" TO fidelity_reader;
      INSERT INTO "UserAccount" ("FirstName", "LastName") VALUES ('Ada', 'Lovelace'), ('Alan', 'Turing');`,
    mutate: `INSERT INTO "UserAccount" ("Id", "FirstName", "LastName") OVERRIDING SYSTEM VALUE VALUES (50, 'Grace', 'Hopper');`,
    expect: { UserAccount: { insert: 0, update: 0, delete: 1 }, audit_log: { insert: 0, update: 0, delete: 0 } },
  },
  {
    name: 'ORM-style application (quoted CamelCase, enums, uuid-ossp, deferrable constraints, tables without a key)',
    setup: `
      CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
      CREATE TYPE "public"."user_role_enum" AS ENUM ('admin', 'member');
      CREATE TABLE "user" ("id" uuid NOT NULL DEFAULT uuid_generate_v4(), "email" character varying NOT NULL, "role" "public"."user_role_enum" NOT NULL DEFAULT 'member',
        "createdAt" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email"), CONSTRAINT "PK_cace4a159ff9f2512dd42373760" PRIMARY KEY ("id"));
      CREATE TABLE "post" ("id" SERIAL NOT NULL, "title" character varying NOT NULL, "authorId" uuid, CONSTRAINT "PK_be5fda3aac270b134ff9c21cdee" PRIMARY KEY ("id"));
      ALTER TABLE "post" ADD CONSTRAINT "FK_c6fb082a3114f35d0cc27c518e0" FOREIGN KEY ("authorId") REFERENCES "user"("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
      CREATE TABLE "post_tags_tag" ("postId" integer NOT NULL, "tagName" character varying NOT NULL);
      CREATE INDEX "IDX_b651178cc41334544a7a9601c4" ON "post_tags_tag" ("postId");
      CREATE TABLE "event_log" ("at" TIMESTAMP NOT NULL, "payload" jsonb);
      INSERT INTO "user" ("id", "email", "role", "createdAt") VALUES ('11111111-1111-1111-1111-111111111111', 'a@x.io', 'admin', '2024-01-01'),
        ('22222222-2222-2222-2222-222222222222', 'b@x.io', 'member', '2024-01-02');
      INSERT INTO "post" ("title", "authorId") VALUES ('hello', '11111111-1111-1111-1111-111111111111'), ('world', '22222222-2222-2222-2222-222222222222');
      INSERT INTO "post_tags_tag" VALUES (1, 'news'), (1, 'intro'), (2, 'news');
      INSERT INTO "event_log" VALUES ('2024-01-01', '{"a": [1, 2]}'), ('2024-01-01', '{"a": [1, 2]}');`,
    mutate: `UPDATE "user" SET "role" = 'member' WHERE "email" = 'a@x.io'; DELETE FROM "post_tags_tag" WHERE "tagName" = 'intro'; DELETE FROM "post" WHERE "id" = 2;`,
    expect: { user: { insert: 0, update: 1, delete: 0 }, post: { insert: 1, update: 0, delete: 0 } },
  },
  {
    name: 'operations application (partitions, domains, views, a materialized view, triggers)',
    setup: `
      CREATE SCHEMA ops;
      CREATE DOMAIN ops.sku AS text CHECK (VALUE ~ '^[A-Z]{3}-[0-9]+$');
      CREATE TABLE ops.products (sku ops.sku PRIMARY KEY, name text NOT NULL, stock int NOT NULL DEFAULT 0);
      CREATE TABLE ops.movements (id bigint GENERATED BY DEFAULT AS IDENTITY, sku ops.sku NOT NULL REFERENCES ops.products(sku), qty int NOT NULL, at timestamptz NOT NULL,
        PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE ops.movements_2024 PARTITION OF ops.movements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE ops.movements_2025 PARTITION OF ops.movements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE FUNCTION ops.apply_movement() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE ops.products SET stock = stock + NEW.qty WHERE sku = NEW.sku; RETURN NEW; END $$;
      CREATE TRIGGER movements_apply AFTER INSERT ON ops.movements FOR EACH ROW EXECUTE FUNCTION ops.apply_movement();
      CREATE VIEW ops.low_stock AS SELECT sku, stock FROM ops.products WHERE stock < 5;
      CREATE MATERIALIZED VIEW ops.monthly AS SELECT date_trunc('month', at) AS month, sum(qty) AS qty FROM ops.movements GROUP BY 1;
      INSERT INTO ops.products VALUES ('ABC-1', 'bolt', 0), ('XYZ-22', 'nut', 0);
      INSERT INTO ops.movements (sku, qty, at) VALUES ('ABC-1', 10, '2024-02-01'), ('XYZ-22', 3, '2025-03-01'), ('ABC-1', -4, '2025-04-01');
      REFRESH MATERIALIZED VIEW ops.monthly;`,
    mutate: `UPDATE ops.products SET name = 'screw' WHERE sku = 'ABC-1'; DELETE FROM ops.movements WHERE id = 3;`,
    expect: {
      'ops.products': { insert: 0, update: 1, delete: 0 },
      'ops.movements': { insert: 1, update: 0, delete: 0 },
    },
  },
];
