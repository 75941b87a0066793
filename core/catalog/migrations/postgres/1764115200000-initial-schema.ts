import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * The catalog's first schema on PostgreSQL: media, renditions, segments, playback progress. The twin of
 * ../sqlite/1764115200000-initial-schema.ts, written as TypeORM's schema builder writes it for PostgreSQL (a test checks
 * that both make the same schema and that the builder finds nothing left to change).
 */
export class InitialSchema1764115200000 implements MigrationInterface {
  name = 'InitialSchema1764115200000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "media" (' +
      '"id" character varying(16) NOT NULL, "source_cid" character varying(128) NOT NULL, "path" text NOT NULL, ' +
      '"title" text NOT NULL, "duration_seconds" double precision NOT NULL, "size_bytes" bigint NOT NULL, "probe" text NOT NULL, ' +
      '"created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_media_source_cid" UNIQUE ("source_cid"), CONSTRAINT "pk_media" PRIMARY KEY ("id"))'
    )
    await queryRunner.query('CREATE INDEX "idx_media_created_at" ON "media" ("created_at")')
    await queryRunner.query(
      'CREATE TABLE "renditions" (' +
      '"key" character varying(64) NOT NULL, "media_id" character varying(16) NOT NULL, "profile" character varying(32) NOT NULL, ' +
      '"fingerprint" character varying(64) NOT NULL, "state" character varying(16) NOT NULL, "segment_count" integer NOT NULL, ' +
      '"init_cid" character varying(128), "root" character varying(128), "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "uq_renditions_media_profile_fingerprint" UNIQUE ("media_id", "profile", "fingerprint"), ' +
      'CONSTRAINT "pk_renditions" PRIMARY KEY ("key"), ' +
      'CONSTRAINT "fk_renditions_media" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query(
      'CREATE TABLE "segments" (' +
      '"rendition_key" character varying(64) NOT NULL, "segment_index" integer NOT NULL, "cid" character varying(128) NOT NULL, ' +
      '"bytes" integer NOT NULL, "created_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_segments" PRIMARY KEY ("rendition_key", "segment_index"), ' +
      'CONSTRAINT "fk_segments_rendition" FOREIGN KEY ("rendition_key") REFERENCES "renditions"("key") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query(
      'CREATE TABLE "playback_progress" (' +
      '"user_id" character varying(64) NOT NULL, "media_id" character varying(16) NOT NULL, "position_seconds" double precision NOT NULL, ' +
      '"updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_playback_progress" PRIMARY KEY ("user_id", "media_id"), ' +
      'CONSTRAINT "fk_playback_progress_media" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query('CREATE INDEX "idx_playback_progress_user_updated" ON "playback_progress" ("user_id", "updated_at")')
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
