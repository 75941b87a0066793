import { searchText } from '../../search-text.ts'
import { LIBRARY_SCALE_INDEXES, listColumnsBackfill } from '../library-scale.ts'
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
    await queryRunner.query(listColumnsBackfill({ yes: 'true', no: 'false' }))
    await queryRunner.query('DROP INDEX "idx_media_created_at"')
    await queryRunner.query('DROP INDEX "idx_media_sort_key"')
    for (const [name, columns] of LIBRARY_SCALE_INDEXES) await queryRunner.query(`CREATE INDEX "${name}" ON "media" (${columns})`)
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
    for (const [name] of [...LIBRARY_SCALE_INDEXES].reverse()) await queryRunner.query(`DROP INDEX "${name}"`)
    await queryRunner.query('CREATE INDEX "idx_media_created_at" ON "media" ("created_at")')
    await queryRunner.query('CREATE INDEX "idx_media_sort_key" ON "media" ("sort_key")')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "year_rank"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "other"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "kind"')
  }
}

/** Rows of search text set by one UPDATE. */
const BACKFILL_BATCH = 500
