import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `content_index.auto`: a pin the distributor placed by itself (issue 13), which it may evict again; 0 for pins
 * someone asked for, which it never touches. Rows from before are explicit.
 */
export class ContentIndexAuto1796500000000 implements MigrationInterface {
  name = 'ContentIndexAuto1796500000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "content_index" ADD COLUMN "auto" boolean NOT NULL DEFAULT (0)')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "content_index" DROP COLUMN "auto"')
  }
}
