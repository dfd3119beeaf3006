/**
 * The PostgreSQL all-types table set shared by the dialect's round-trip spec and the
 * recovery tests: every common column type, a composite primary key, identity, serial and
 * generated columns, an enum, a self-referencing foreign key, a mixed-case name and a table
 * without a primary key.
 */
export const ALL_TYPES_PG_SCHEMA = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE everything (
    region int NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    serial_no serial,
    parent_region int,
    parent_id bigint,
    s smallint, i integer, b bigint, n numeric, r real, d double precision,
    t text, by bytea, bo boolean, da date, ts timestamp, tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb, ia int[], ta text[], m mood, ma mood[],
    doubled bigint GENERATED ALWAYS AS (i::bigint * 2) STORED,
    PRIMARY KEY (region, id),
    FOREIGN KEY (parent_region, parent_id) REFERENCES everything (region, id)
  );
  CREATE TABLE "Mixed Case" ("Key" text PRIMARY KEY, "va""lue" text);
  CREATE TABLE no_key (x int, y text);
`;

/** After the `everything` rows: a self-reference that is also a cycle, and the other two tables. */
export const ALL_TYPES_PG_LINKS = [
  // Rows 1 and 3 point at each other, row 2 at itself.
  `UPDATE everything SET parent_region = 2, parent_id = 3 WHERE id = 1`,
  `UPDATE everything SET parent_region = 1, parent_id = 1 WHERE id = 3`,
  `UPDATE everything SET parent_region = 1, parent_id = 2 WHERE id = 2`,
  `INSERT INTO "Mixed Case" VALUES ('k1', NULL), ('K1', 'v'), (E'\\\\N', E'\\\\N')`,
  `INSERT INTO no_key VALUES (3, 'c'), (1, NULL), (3, 'c'), (NULL, NULL)`,
];
