import type { MigrationInterface, QueryRunner } from 'typeorm'

/** The node registry on PostgreSQL (core/replication/registry.ts): the twin of ../sqlite/1795654800000-nodes.ts. */
export class Nodes1795654800000 implements MigrationInterface {
  name = 'Nodes1795654800000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "nodes" (' +
      '"peer_id" character varying(128) NOT NULL, "name" text NOT NULL, "label" character varying(63) NOT NULL, ' +
      '"ipns" character varying(128) NOT NULL, "mode" character varying(16) NOT NULL, "url" text NOT NULL, "addresses" text NOT NULL, ' +
      '"quota_bytes" bigint NOT NULL, "used_bytes" bigint NOT NULL, "free_bytes" bigint NOT NULL, ' +
      '"health" text, "pinned" text NOT NULL, "last_seen" bigint, "revoked_at" bigint, ' +
      '"created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_nodes_label" UNIQUE ("label"), CONSTRAINT "pk_nodes" PRIMARY KEY ("peer_id"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "nodes"')
  }
}
