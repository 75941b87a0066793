import { sortKey } from '../../sort-key.ts'
import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `media.sort_key` (core/catalog/sort-key.ts), so the library can be listed in natural title order by the
 * database, and its index. Existing rows get their key from the metadata's sort title or title, else the
 * media's title. The column is added in place: rebuilding `media` would cascade-delete every row that refers to
 * it, since foreign keys cannot be switched off inside the migration's transaction. A later change to how keys
 * are made needs a migration of its own that computes them again.
 */
export class MediaSortKey1796000000000 implements MigrationInterface {
  name = 'MediaSortKey1796000000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "media" ADD COLUMN "sort_key" text NOT NULL DEFAULT (\'\')')
    const rows: Array<{ id: string, title: string, sortTitle: string | null }> = await queryRunner.query(
      'SELECT "m"."id" AS "id", COALESCE("mm"."title", "m"."title") AS "title", "mm"."sort_title" AS "sortTitle" ' +
      'FROM "media" "m" LEFT JOIN "media_metadata" "mm" ON "mm"."media_id" = "m"."id"'
    )
    for (const row of rows) {
      await queryRunner.query('UPDATE "media" SET "sort_key" = ? WHERE "id" = ?', [sortKey(row.title, row.sortTitle), row.id])
    }
    await queryRunner.query('CREATE INDEX "idx_media_sort_key" ON "media" ("sort_key")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_media_sort_key"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "sort_key"')
  }
}
