import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * The content index on SQLite (core/catalog/replication-entities.ts): one row per (node, root CID). Written as
 * TypeORM's schema builder writes it (a test checks that it finds nothing left to change).
 */
export class ContentIndex1795830000000 implements MigrationInterface {
  name = 'ContentIndex1795830000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "content_index" (' +
      '"peer_id" varchar(128) NOT NULL, "cid" varchar(128) NOT NULL, "state" varchar(16) NOT NULL, "wanted" varchar(8), ' +
      '"order_id" varchar(64), "media_id" varchar(16), "profile" varchar(32), "blocks_done" bigint NOT NULL, ' +
      '"bytes_done" bigint NOT NULL, "blocks_total" bigint, "bytes_total" bigint, "error_name" varchar(64), ' +
      '"error_message" text, "attempts" integer NOT NULL, "retry_at" bigint, "ordered_at" bigint, "reported_at" bigint, ' +
      '"progress_at" bigint, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'PRIMARY KEY ("peer_id", "cid"))'
    )
    await queryRunner.query('CREATE INDEX "idx_content_index_cid" ON "content_index" ("cid")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_content_index_cid"')
    await queryRunner.query('DROP TABLE "content_index"')
  }
}
