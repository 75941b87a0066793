import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * The catalog's first schema on SQLite: media, renditions, segments, playback progress.
 * Written as TypeORM's schema builder would write it for `core/catalog/entities.ts` (a test checks that the
 * builder finds nothing left to change after it runs). PostgreSQL needs its own migration set.
 */
export class InitialSchema1764115200000 implements MigrationInterface {
  name = 'InitialSchema1764115200000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "media" (' +
      '"id" varchar(16) PRIMARY KEY NOT NULL, "source_cid" varchar(128) NOT NULL, "path" text NOT NULL, ' +
      '"title" text NOT NULL, "duration_seconds" float NOT NULL, "size_bytes" bigint NOT NULL, "probe" text NOT NULL, ' +
      '"created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_media_source_cid" UNIQUE ("source_cid"))'
    )
    await queryRunner.query('CREATE INDEX "idx_media_created_at" ON "media" ("created_at")')
    await queryRunner.query(
      'CREATE TABLE "renditions" (' +
      '"key" varchar(64) PRIMARY KEY NOT NULL, "media_id" varchar(16) NOT NULL, "profile" varchar(32) NOT NULL, ' +
      '"fingerprint" varchar(64) NOT NULL, "state" varchar(16) NOT NULL, "segment_count" integer NOT NULL, ' +
      '"init_cid" varchar(128), "root" varchar(128), "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_renditions_media_profile_fingerprint" UNIQUE ("media_id", "profile", "fingerprint"), ' +
      'CONSTRAINT "fk_renditions_media" FOREIGN KEY ("media_id") REFERENCES "media" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query(
      'CREATE TABLE "segments" (' +
      '"rendition_key" varchar(64) NOT NULL, "segment_index" integer NOT NULL, "cid" varchar(128) NOT NULL, ' +
      '"bytes" integer NOT NULL, "created_at" bigint NOT NULL, ' +
      'CONSTRAINT "fk_segments_rendition" FOREIGN KEY ("rendition_key") REFERENCES "renditions" ("key") ON DELETE CASCADE ON UPDATE NO ACTION, ' +
      'PRIMARY KEY ("rendition_key", "segment_index"))'
    )
    await queryRunner.query(
      'CREATE TABLE "playback_progress" (' +
      '"user_id" varchar(64) NOT NULL, "media_id" varchar(16) NOT NULL, "position_seconds" float NOT NULL, ' +
      '"updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "fk_playback_progress_media" FOREIGN KEY ("media_id") REFERENCES "media" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, ' +
      'PRIMARY KEY ("user_id", "media_id"))'
    )
    await queryRunner.query(
      'CREATE INDEX "idx_playback_progress_user_updated" ON "playback_progress" ("user_id", "updated_at")'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_playback_progress_user_updated"')
    await queryRunner.query('DROP TABLE "playback_progress"')
    await queryRunner.query('DROP TABLE "segments"')
    await queryRunner.query('DROP TABLE "renditions"')
    await queryRunner.query('DROP INDEX "idx_media_created_at"')
    await queryRunner.query('DROP TABLE "media"')
  }
}
