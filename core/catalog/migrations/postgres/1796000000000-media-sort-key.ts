import { sortKey } from '../../sort-key.ts'
import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `media.sort_key` on PostgreSQL, its index, and the keys of rows already there: the twin of
 * ../sqlite/1796000000000-media-sort-key.ts. Keys compare bytewise here too: the catalog only opens a database whose
 * collation is C (core/catalog/dialect.ts).
 */
export class MediaSortKey1796000000000 implements MigrationInterface {
  name = 'MediaSortKey1796000000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "media" ADD "sort_key" text NOT NULL DEFAULT \'\'')
    const rows: Array<{ id: string, title: string, sortTitle: string | null }> = await queryRunner.query(
      'SELECT "m"."id" AS "id", COALESCE("mm"."title", "m"."title") AS "title", "mm"."sort_title" AS "sortTitle" ' +
      'FROM "media" "m" LEFT JOIN "media_metadata" "mm" ON "mm"."media_id" = "m"."id"'
    )
    for (const row of rows) {
      await queryRunner.query('UPDATE "media" SET "sort_key" = $1 WHERE "id" = $2', [sortKey(row.title, row.sortTitle), row.id])
    }
    await queryRunner.query('CREATE INDEX "idx_media_sort_key" ON "media" ("sort_key")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_media_sort_key"')
    await queryRunner.query('ALTER TABLE "media" DROP COLUMN "sort_key"')
  }
}
