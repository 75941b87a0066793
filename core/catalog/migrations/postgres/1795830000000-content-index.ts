import type { MigrationInterface, QueryRunner } from 'typeorm'

/** The content index on PostgreSQL: one row per (node, root CID). The twin of ../sqlite/1795830000000-content-index.ts. */
export class ContentIndex1795830000000 implements MigrationInterface {
  name = 'ContentIndex1795830000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "content_index" (' +
      '"peer_id" character varying(128) NOT NULL, "cid" character varying(128) NOT NULL, "state" character varying(16) NOT NULL, ' +
      '"wanted" character varying(8), "order_id" character varying(64), "media_id" character varying(16), "profile" character varying(32), ' +
      '"blocks_done" bigint NOT NULL, "bytes_done" bigint NOT NULL, "blocks_total" bigint, "bytes_total" bigint, ' +
      '"error_name" character varying(64), "error_message" text, "attempts" integer NOT NULL, "retry_at" bigint, "ordered_at" bigint, ' +
      '"reported_at" bigint, "progress_at" bigint, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_content_index" PRIMARY KEY ("peer_id", "cid"))'
    )
    await queryRunner.query('CREATE INDEX "idx_content_index_cid" ON "content_index" ("cid")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_content_index_cid"')
    await queryRunner.query('DROP TABLE "content_index"')
  }
}
