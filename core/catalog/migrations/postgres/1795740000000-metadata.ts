import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * The metadata tables on PostgreSQL (core/catalog/metadata-entities.ts): series, seasons, collections,
 * media_metadata, metadata_audit, images. The twin of ../sqlite/1795740000000-metadata.ts (the audit trail's id is a
 * SERIAL where SQLite has AUTOINCREMENT).
 */
export class Metadata1795740000000 implements MigrationInterface {
  name = 'Metadata1795740000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "series" (' +
      '"id" character varying(16) NOT NULL, "title" text NOT NULL, "original_title" text, "year" integer, "overview" text, ' +
      '"imdb_id" character varying(16), "tmdb_id" integer, "tvdb_id" integer, "poster_cid" character varying(128), ' +
      '"backdrop_cid" character varying(128), "folder" text, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_series" PRIMARY KEY ("id"))'
    )
    await queryRunner.query('CREATE INDEX "idx_series_imdb_id" ON "series" ("imdb_id")')
    await queryRunner.query('CREATE INDEX "idx_series_tvdb_id" ON "series" ("tvdb_id")')
    await queryRunner.query('CREATE INDEX "idx_series_tmdb_id" ON "series" ("tmdb_id")')
    await queryRunner.query(
      'CREATE TABLE "seasons" (' +
      '"series_id" character varying(16) NOT NULL, "number" integer NOT NULL, "title" text, "overview" text, "poster_cid" character varying(128), ' +
      'CONSTRAINT "pk_seasons" PRIMARY KEY ("series_id", "number"), ' +
      'CONSTRAINT "fk_seasons_series" FOREIGN KEY ("series_id") REFERENCES "series"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query(
      'CREATE TABLE "collections" (' +
      '"id" character varying(16) NOT NULL, "title" text NOT NULL, "overview" text, "tmdb_id" integer, ' +
      '"poster_cid" character varying(128), "backdrop_cid" character varying(128), "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_collections" PRIMARY KEY ("id"))'
    )
    await queryRunner.query('CREATE INDEX "idx_collections_tmdb_id" ON "collections" ("tmdb_id")')
    await queryRunner.query(
      'CREATE TABLE "media_metadata" (' +
      '"media_id" character varying(16) NOT NULL, "kind" character varying(16) NOT NULL, "title" text NOT NULL, "original_title" text, ' +
      '"sort_title" text, "year" integer, "release_date" character varying(10), "overview" text, "tagline" text, "imdb_id" character varying(16), ' +
      '"tmdb_id" integer, "tvdb_id" integer, "series_id" character varying(16), "season_number" integer, "episode_number" integer, ' +
      '"episode_end" integer, "collection_id" character varying(16), "extra_type" character varying(32), "folder" text NOT NULL, ' +
      '"poster_cid" character varying(128), "backdrop_cid" character varying(128), "still_cid" character varying(128), "locked" text NOT NULL, ' +
      '"source" character varying(16) NOT NULL, "identified_at" bigint, "updated_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_media_metadata" PRIMARY KEY ("media_id"), ' +
      'CONSTRAINT "fk_media_metadata_media" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE NO ACTION, ' +
      'CONSTRAINT "fk_media_metadata_series" FOREIGN KEY ("series_id") REFERENCES "series"("id") ON DELETE SET NULL ON UPDATE NO ACTION, ' +
      'CONSTRAINT "fk_media_metadata_collection" FOREIGN KEY ("collection_id") REFERENCES "collections"("id") ON DELETE SET NULL ON UPDATE NO ACTION)'
    )
    await queryRunner.query('CREATE INDEX "idx_media_metadata_collection" ON "media_metadata" ("collection_id")')
    await queryRunner.query('CREATE INDEX "idx_media_metadata_series_order" ON "media_metadata" ("series_id", "season_number", "episode_number")')
    await queryRunner.query(
      'CREATE TABLE "metadata_audit" (' +
      '"id" SERIAL NOT NULL, "media_id" character varying(16) NOT NULL, "at" bigint NOT NULL, ' +
      '"actor" character varying(64) NOT NULL, "action" character varying(16) NOT NULL, "changes" text NOT NULL, "reverts" integer, ' +
      'CONSTRAINT "pk_metadata_audit" PRIMARY KEY ("id"), ' +
      'CONSTRAINT "fk_metadata_audit_media" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query('CREATE INDEX "idx_metadata_audit_media" ON "metadata_audit" ("media_id", "id")')
    await queryRunner.query(
      'CREATE TABLE "images" (' +
      '"source_hash" character varying(64) NOT NULL, "source" text NOT NULL, "cid" character varying(128) NOT NULL, ' +
      '"type" character varying(32) NOT NULL, "bytes" integer NOT NULL, "created_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_images" PRIMARY KEY ("source_hash"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "images"')
    await queryRunner.query('DROP INDEX "idx_metadata_audit_media"')
    await queryRunner.query('DROP TABLE "metadata_audit"')
    await queryRunner.query('DROP INDEX "idx_media_metadata_series_order"')
    await queryRunner.query('DROP INDEX "idx_media_metadata_collection"')
    await queryRunner.query('DROP TABLE "media_metadata"')
    await queryRunner.query('DROP INDEX "idx_collections_tmdb_id"')
    await queryRunner.query('DROP TABLE "collections"')
    await queryRunner.query('DROP TABLE "seasons"')
    await queryRunner.query('DROP INDEX "idx_series_tmdb_id"')
    await queryRunner.query('DROP INDEX "idx_series_tvdb_id"')
    await queryRunner.query('DROP INDEX "idx_series_imdb_id"')
    await queryRunner.query('DROP TABLE "series"')
  }
}
