import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `images.cid` indexed: the image route answers a CID only when it is one of the catalog's images. */
export class ImageCidIndex1796300000000 implements MigrationInterface {
  name = 'ImageCidIndex1796300000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX "idx_images_cid" ON "images" ("cid")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_images_cid"')
  }
}
