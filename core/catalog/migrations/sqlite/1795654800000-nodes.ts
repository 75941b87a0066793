import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * The node registry on SQLite: one row per CDN node (core/replication/registry.ts). Written as TypeORM's schema
 * builder would write it for the `Node` entity (the schema test checks nothing is left to change).
 */
export class Nodes1795654800000 implements MigrationInterface {
  name = 'Nodes1795654800000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "nodes" (' +
      '"peer_id" varchar(128) PRIMARY KEY NOT NULL, "name" text NOT NULL, "label" varchar(63) NOT NULL, ' +
      '"ipns" varchar(128) NOT NULL, "mode" varchar(16) NOT NULL, "url" text NOT NULL, "addresses" text NOT NULL, ' +
      '"quota_bytes" bigint NOT NULL, "used_bytes" bigint NOT NULL, "free_bytes" bigint NOT NULL, ' +
      '"health" text, "pinned" text NOT NULL, "last_seen" bigint, "revoked_at" bigint, ' +
      '"created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_nodes_label" UNIQUE ("label"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "nodes"')
  }
}
