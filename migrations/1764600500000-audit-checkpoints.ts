import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Signed checkpoints of the audit trail, the Merkle tree's complete subtrees they are
 * computed from, and the generated signing key (when AUDIT_SIGNING_KEY is not set).
 * Generated from AuditCheckpointEntity, AuditMerkleNodeEntity and AuditSigningKeyEntity.
 */
export class AuditCheckpoints1764600500000 implements MigrationInterface {
  name = 'AuditCheckpoints1764600500000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_audit_checkpoints" ("tree_size" integer NOT NULL, "root_hash" character varying(64) NOT NULL, "signed_at" character varying(32) NOT NULL, "note" text NOT NULL, "stored_at" character varying(32), CONSTRAINT "PK_718749c53c4e3824b0d096ce9d5" PRIMARY KEY ("tree_size"))`,
        `CREATE TABLE "strongroom_audit_merkle" ("level" integer NOT NULL, "idx" integer NOT NULL, "hash" character varying(64) NOT NULL, CONSTRAINT "PK_51192c6715eecbfd25544113ecd" PRIMARY KEY ("level", "idx"))`,
        `CREATE TABLE "strongroom_audit_signing_key" ("id" integer NOT NULL, "seed" character varying(64) NOT NULL, "public_key" character varying(64) NOT NULL, "created_at" character varying(32) NOT NULL, CONSTRAINT "PK_f571f97545499359f23815f98de" PRIMARY KEY ("id"))`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_audit_checkpoints" ("tree_size" integer PRIMARY KEY NOT NULL, "root_hash" varchar(64) NOT NULL, "signed_at" varchar(32) NOT NULL, "note" text NOT NULL, "stored_at" varchar(32))`,
        `CREATE TABLE "strongroom_audit_merkle" ("level" integer NOT NULL, "idx" integer NOT NULL, "hash" varchar(64) NOT NULL, PRIMARY KEY ("level", "idx"))`,
        `CREATE TABLE "strongroom_audit_signing_key" ("id" integer PRIMARY KEY NOT NULL, "seed" varchar(64) NOT NULL, "public_key" varchar(64) NOT NULL, "created_at" varchar(32) NOT NULL)`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "strongroom_audit_signing_key"`);
    await q.query(`DROP TABLE "strongroom_audit_merkle"`);
    await q.query(`DROP TABLE "strongroom_audit_checkpoints"`);
  }
}
