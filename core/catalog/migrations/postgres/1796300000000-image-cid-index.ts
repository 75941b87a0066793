import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `images.cid` indexed on PostgreSQL: the twin of ../sqlite/1796300000000-image-cid-index.ts. */
export class ImageCidIndex1796300000000 implements MigrationInterface {
  name = 'ImageCidIndex1796300000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX "idx_images_cid" ON "images" ("cid")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_images_cid"')
  }
}
