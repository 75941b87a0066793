import { searchText } from '../../search-text.ts'
import { LIBRARY_SCALE_INDEXES, listColumnsBackfill } from '../library-scale.ts'
import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `media.kind`, `other`, `year_rank`, the list indexes and `media_search` on PostgreSQL: the twin of
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
    await queryRunner.query(
      'CREATE TABLE "media_search" ("media_id" character varying(16) NOT NULL, "title" text NOT NULL, "text" text NOT NULL, ' +
      'CONSTRAINT "pk_media_search" PRIMARY KEY ("media_id"), ' +
      'CONSTRAINT "fk_media_search_media" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    // lowered here, not by SQL's LOWER (ASCII alone under collation C), and sent a batch of rows per statement
    const rows: Array<{ id: string, title: string, originalTitle: string | null }> = await queryRunner.query('SELECT "media_id" AS "id", "title", "original_title" AS "originalTitle" FROM "media_metadata"')
    for (let i = 0; i < rows.length; i += BACKFILL_BATCH) {
      const batch = rows.slice(i, i + BACKFILL_BATCH)
      const values = batch.map((_, j) => `($${3 * j + 1}, $${3 * j + 2}, $${3 * j + 3})`).join(', ')
      await queryRunner.query(`INSERT INTO "media_search" ("media_id", "title", "text") VALUES ${values}`, batch.flatMap(row => [row.id, row.title, searchText(row.title, row.originalTitle)]))
    }
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "media_search"')
    for (const [name] of [...LIBRARY_SCALE_INDEXES].reverse()) await queryRunner.query(`DROP INDEX "${name}"`)
    await queryRunner.query('CREATE INDEX "idx_media_created_at" ON "media" ("created_at")')
    await queryRunner.query('CREATE INDEX "idx_media_sort_key" ON "media" ("sort_key")')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "year_rank"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "other"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "kind"')
  }
}

/** Rows of `media_search` written by one INSERT. */
const BACKFILL_BATCH = 500
