import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `nodes.region` and `nodes.tags`: where a node says it is (`cidcast node --region NAME`, null for none) and its
 * free labels (`--tags a,b`, a JSON array of strings), both as its last registration sent them.
 */
export class NodeRegion1796400000000 implements MigrationInterface {
  name = 'NodeRegion1796400000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD COLUMN "region" varchar(32)')
    await queryRunner.query('ALTER TABLE "nodes" ADD COLUMN "tags" text NOT NULL DEFAULT \'[]\'')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "tags"')
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "region"')
  }
}
