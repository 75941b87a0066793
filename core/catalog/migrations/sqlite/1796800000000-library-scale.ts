import { searchText } from '../../search-text.ts'
import { LIBRARY_SCALE_INDEXES, listColumnsBackfill } from '../library-scale.ts'
import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * What a large library (issue 15: 100,000 media) is listed and searched by. On `media` itself: `kind` (the metadata's
 * kind, null before any), `other` (true for what neither the movie grid nor a series shows: the `other` filter) and
 * `year_rank` (newest first: 9999 - year, 10000 when unknown), each page then an index walk instead of a join and a
 * sort of the whole library; the date and title indexes gain the id that breaks their ties. `media_search`: per media
 * with metadata, its title and its titles in lower case (core/catalog/search-text.ts), a narrow table that a search
 * scans instead of lowering every title of `media_metadata` each time. Rows already there get their values from their
 * metadata. The twin of ../postgres/1796800000000-library-scale.ts.
 */
export class LibraryScale1796800000000 implements MigrationInterface {
  name = 'LibraryScale1796800000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "media" ADD COLUMN "kind" varchar(16)')
    await queryRunner.query('ALTER TABLE "media" ADD COLUMN "other" boolean NOT NULL DEFAULT (1)')
    await queryRunner.query('ALTER TABLE "media" ADD COLUMN "year_rank" integer NOT NULL DEFAULT (10000)')
    await queryRunner.query(listColumnsBackfill({ yes: '1', no: '0' }))
    await queryRunner.query('DROP INDEX "idx_media_created_at"')
    await queryRunner.query('DROP INDEX "idx_media_sort_key"')
    for (const [name, columns] of LIBRARY_SCALE_INDEXES) await queryRunner.query(`CREATE INDEX "${name}" ON "media" (${columns})`)
    await queryRunner.query(
      'CREATE TABLE "media_search" ("media_id" varchar(16) PRIMARY KEY NOT NULL, "title" text NOT NULL, "text" text NOT NULL, ' +
      'CONSTRAINT "fk_media_search_media" FOREIGN KEY ("media_id") REFERENCES "media" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    // lowered here, not by SQL's LOWER: SQLite's folds ASCII alone, searchText every letter
    const rows: Array<{ id: string, title: string, originalTitle: string | null }> = await queryRunner.query('SELECT "media_id" AS "id", "title", "original_title" AS "originalTitle" FROM "media_metadata"')
    for (const row of rows) await queryRunner.query('INSERT INTO "media_search" ("media_id", "title", "text") VALUES (?, ?, ?)', [row.id, row.title, searchText(row.title, row.originalTitle)])
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
