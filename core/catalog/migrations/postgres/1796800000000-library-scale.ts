import { searchText } from '../../search-text.ts'
import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `media.kind`, `other`, `year_rank`, the list indexes and `media_metadata.search_text` on PostgreSQL: the twin of
 * ../sqlite/1796800000000-library-scale.ts.
 */
export class LibraryScale1796800000000 implements MigrationInterface {
  name = 'LibraryScale1796800000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "media" ADD "kind" character varying(16)')
    await queryRunner.query('ALTER TABLE "media" ADD "other" boolean NOT NULL DEFAULT true')
    await queryRunner.query('ALTER TABLE "media" ADD "year_rank" integer NOT NULL DEFAULT 10000')
    await queryRunner.query(
      'UPDATE "media" SET ' +
      '"kind" = (SELECT "mm"."kind" FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id"), ' +
      '"year_rank" = COALESCE((SELECT 9999 - "mm"."year" FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id" AND "mm"."year" BETWEEN 0 AND 9999), 10000), ' +
      '"other" = CASE WHEN EXISTS (SELECT 1 FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id" AND ' +
      '("mm"."kind" = \'movie\' OR ("mm"."kind" = \'episode\' AND "mm"."series_id" IS NOT NULL AND "mm"."season_number" IS NOT NULL))) THEN false ELSE true END'
    )
    await queryRunner.query('DROP INDEX "idx_media_created_at"')
    await queryRunner.query('DROP INDEX "idx_media_sort_key"')
    for (const [name, columns] of INDEXES) await queryRunner.query(`CREATE INDEX "${name}" ON "media" (${columns})`)
    await queryRunner.query('ALTER TABLE "media_metadata" ADD "search_text" text NOT NULL DEFAULT \'\'')
    // lowered here, not by SQL's LOWER (ASCII alone under collation C), and sent a batch of rows per statement
    const rows: Array<{ id: string, title: string, originalTitle: string | null }> = await queryRunner.query('SELECT "media_id" AS "id", "title", "original_title" AS "originalTitle" FROM "media_metadata"')
    for (let i = 0; i < rows.length; i += BACKFILL_BATCH) {
      const batch = rows.slice(i, i + BACKFILL_BATCH)
      const values = batch.map((_, j) => `($${2 * j + 1}, $${2 * j + 2})`).join(', ')
      await queryRunner.query(`UPDATE "media_metadata" AS "m" SET "search_text" = "v"."t" FROM (VALUES ${values}) AS "v"("id", "t") WHERE "m"."media_id" = "v"."id"`,
        batch.flatMap(row => [row.id, searchText(row.title, row.originalTitle)]))
    }
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "media_metadata" DROP COLUMN "search_text"')
    for (const [name] of [...INDEXES].reverse()) await queryRunner.query(`DROP INDEX "${name}"`)
    await queryRunner.query('CREATE INDEX "idx_media_created_at" ON "media" ("created_at")')
    await queryRunner.query('CREATE INDEX "idx_media_sort_key" ON "media" ("sort_key")')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "year_rank"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "other"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "kind"')
  }
}

/** Rows of search text set by one UPDATE. */
const BACKFILL_BATCH = 500

/** Every order (date added, title, year) alone, and after each filter (kind, other). */
const INDEXES: ReadonlyArray<[string, string]> = [
  ['idx_media_created_at', '"created_at", "id"'],
  ['idx_media_sort_key', '"sort_key", "id"'],
  ['idx_media_year', '"year_rank", "sort_key", "id"'],
  ['idx_media_kind_created_at', '"kind", "created_at", "id"'],
  ['idx_media_kind_sort_key', '"kind", "sort_key", "id"'],
  ['idx_media_kind_year', '"kind", "year_rank", "sort_key", "id"'],
  ['idx_media_other_created_at', '"other", "created_at", "id"'],
  ['idx_media_other_sort_key', '"other", "sort_key", "id"'],
  ['idx_media_other_year', '"other", "year_rank", "sort_key", "id"']
]
