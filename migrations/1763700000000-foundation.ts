import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys, the audit chain (with its recorded head) and leases. Table SQL is generated
 * from the entities (scripts/generate-migration-sql.ts); the append-only triggers are ours:
 * the database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on audit events.
 */
export class Foundation1763700000000 implements MigrationInterface {
  name = 'Foundation1763700000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') return this.upPostgres(q);
    return this.upSqlite(q);
  }

  private async upPostgres(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "strongroom_api_keys" ("id" character varying(36) NOT NULL, "name" character varying(200) NOT NULL, "role" character varying(16) NOT NULL, "key_hash" character varying(64) NOT NULL, "created_at" character varying(32) NOT NULL, "revoked_at" character varying(32), "last_used_at" character varying(32), CONSTRAINT "PK_86e46d57e4fdd61d8edda7a4c64" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_strongroom_api_keys_hash" ON "strongroom_api_keys" ("key_hash")`);
    await q.query(
      `CREATE TABLE "strongroom_audit_events" ("seq" integer NOT NULL, "at" character varying(32) NOT NULL, "actor_type" character varying(16) NOT NULL, "actor_key_id" character varying(36), "actor_name" character varying(200) NOT NULL, "actor_role" character varying(16), "action" character varying(100) NOT NULL, "resource" character varying(50) NOT NULL, "resource_id" character varying(200), "outcome" character varying(16) NOT NULL, "ip" character varying(64), "user_agent" character varying(500), "request_id" character varying(100), "details" text NOT NULL, "prev_hash" character varying(64) NOT NULL, "hash" character varying(64) NOT NULL, CONSTRAINT "PK_604d241ab453caa45b5490c9b0f" PRIMARY KEY ("seq"))`,
    );
    await q.query(
      `CREATE INDEX "ix_strongroom_audit_events_resource" ON "strongroom_audit_events" ("resource", "resource_id")`,
    );
    await q.query(`CREATE INDEX "ix_strongroom_audit_events_action" ON "strongroom_audit_events" ("action")`);
    await q.query(`CREATE INDEX "ix_strongroom_audit_events_at" ON "strongroom_audit_events" ("at")`);
    await q.query(
      `CREATE TABLE "strongroom_audit_head" ("id" integer NOT NULL, "seq" integer NOT NULL, "hash" character varying(64) NOT NULL, "updated_at" character varying(32) NOT NULL, CONSTRAINT "PK_56f15a550b819dcf1538ff94a44" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE TABLE "strongroom_leases" ("name" character varying(200) NOT NULL, "owner" character varying(200) NOT NULL, "acquired_at" character varying(32) NOT NULL, "expires_at" character varying(32) NOT NULL, CONSTRAINT "PK_65da0fd19c2b6558b076ba75041" PRIMARY KEY ("name"))`,
    );
    await q.query(`CREATE OR REPLACE FUNCTION strongroom_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'strongroom_audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER strongroom_audit_no_change BEFORE UPDATE OR DELETE ON "strongroom_audit_events" FOR EACH ROW EXECUTE FUNCTION strongroom_audit_append_only()`,
    );
    await q.query(
      `CREATE TRIGGER strongroom_audit_no_truncate BEFORE TRUNCATE ON "strongroom_audit_events" FOR EACH STATEMENT EXECUTE FUNCTION strongroom_audit_append_only()`,
    );
  }

  private async upSqlite(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "strongroom_api_keys" ("id" varchar(36) PRIMARY KEY NOT NULL, "name" varchar(200) NOT NULL, "role" varchar(16) NOT NULL, "key_hash" varchar(64) NOT NULL, "created_at" varchar(32) NOT NULL, "revoked_at" varchar(32), "last_used_at" varchar(32))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_strongroom_api_keys_hash" ON "strongroom_api_keys" ("key_hash")`);
    await q.query(
      `CREATE TABLE "strongroom_audit_events" ("seq" integer PRIMARY KEY NOT NULL, "at" varchar(32) NOT NULL, "actor_type" varchar(16) NOT NULL, "actor_key_id" varchar(36), "actor_name" varchar(200) NOT NULL, "actor_role" varchar(16), "action" varchar(100) NOT NULL, "resource" varchar(50) NOT NULL, "resource_id" varchar(200), "outcome" varchar(16) NOT NULL, "ip" varchar(64), "user_agent" varchar(500), "request_id" varchar(100), "details" text NOT NULL, "prev_hash" varchar(64) NOT NULL, "hash" varchar(64) NOT NULL)`,
    );
    await q.query(
      `CREATE INDEX "ix_strongroom_audit_events_resource" ON "strongroom_audit_events" ("resource", "resource_id")`,
    );
    await q.query(`CREATE INDEX "ix_strongroom_audit_events_action" ON "strongroom_audit_events" ("action")`);
    await q.query(`CREATE INDEX "ix_strongroom_audit_events_at" ON "strongroom_audit_events" ("at")`);
    await q.query(
      `CREATE TABLE "strongroom_audit_head" ("id" integer PRIMARY KEY NOT NULL, "seq" integer NOT NULL, "hash" varchar(64) NOT NULL, "updated_at" varchar(32) NOT NULL)`,
    );
    await q.query(
      `CREATE TABLE "strongroom_leases" ("name" varchar(200) PRIMARY KEY NOT NULL, "owner" varchar(200) NOT NULL, "acquired_at" varchar(32) NOT NULL, "expires_at" varchar(32) NOT NULL)`,
    );
    await q.query(
      `CREATE TRIGGER strongroom_audit_no_update BEFORE UPDATE ON "strongroom_audit_events" BEGIN SELECT RAISE(ABORT, 'strongroom_audit_events is append-only: UPDATE refused'); END`,
    );
    await q.query(
      `CREATE TRIGGER strongroom_audit_no_delete BEFORE DELETE ON "strongroom_audit_events" BEGIN SELECT RAISE(ABORT, 'strongroom_audit_events is append-only: DELETE refused'); END`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const pg = q.connection.options.type === 'postgres';
    // The audit table is dropped whole (a DROP is not an UPDATE/DELETE); down() exists for development only.
    await q.query(`DROP TABLE "strongroom_leases"`);
    await q.query(`DROP TABLE "strongroom_audit_head"`);
    await q.query(`DROP TABLE "strongroom_audit_events"`);
    if (pg) await q.query(`DROP FUNCTION IF EXISTS strongroom_audit_append_only()`);
    await q.query(`DROP TABLE "strongroom_api_keys"`);
  }
}
