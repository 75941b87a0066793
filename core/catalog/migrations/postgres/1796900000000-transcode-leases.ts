import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `transcode_leases` on PostgreSQL: the twin of ../sqlite/1796900000000-transcode-leases.ts. */
export class TranscodeLeases1796900000000 implements MigrationInterface {
  name = 'TranscodeLeases1796900000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "transcode_leases" ("id" character varying(24) NOT NULL, "rendition_key" character varying(64) NOT NULL, ' +
      '"start_index" integer NOT NULL, "position" integer NOT NULL, "owner" character varying(128) NOT NULL, "expires_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_transcode_leases" PRIMARY KEY ("id"))'
    )
    await queryRunner.query('CREATE INDEX "idx_transcode_leases_rendition_key" ON "transcode_leases" ("rendition_key")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_transcode_leases_rendition_key"')
    await queryRunner.query('DROP TABLE "transcode_leases"')
  }
}
