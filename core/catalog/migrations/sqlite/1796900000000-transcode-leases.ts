import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `transcode_leases`: one row per running ffmpeg session of a main server, so servers sharing one database do not start
 * ffmpeg twice for the same segments (issue 15, core/catalog/transcode-lease-repository.ts).
 */
export class TranscodeLeases1796900000000 implements MigrationInterface {
  name = 'TranscodeLeases1796900000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "transcode_leases" ("id" varchar(24) PRIMARY KEY NOT NULL, "rendition_key" varchar(64) NOT NULL, ' +
      '"start_index" integer NOT NULL, "position" integer NOT NULL, "owner" varchar(128) NOT NULL, "expires_at" bigint NOT NULL)'
    )
    await queryRunner.query('CREATE INDEX "idx_transcode_leases_rendition_key" ON "transcode_leases" ("rendition_key")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_transcode_leases_rendition_key"')
    await queryRunner.query('DROP TABLE "transcode_leases"')
  }
}
