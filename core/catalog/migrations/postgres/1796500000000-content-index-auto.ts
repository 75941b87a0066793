import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `content_index.auto` on PostgreSQL (a real boolean here): the twin of ../sqlite/1796500000000-content-index-auto.ts. */
export class ContentIndexAuto1796500000000 implements MigrationInterface {
  name = 'ContentIndexAuto1796500000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "content_index" ADD "auto" boolean NOT NULL DEFAULT false')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "content_index" DROP COLUMN "auto"')
  }
}
