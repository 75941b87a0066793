import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `nodes.region` and `nodes.tags` on PostgreSQL: the twin of ../sqlite/1796400000000-node-region.ts. */
export class NodeRegion1796400000000 implements MigrationInterface {
  name = 'NodeRegion1796400000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD "region" character varying(32)')
    await queryRunner.query('ALTER TABLE "nodes" ADD "tags" text NOT NULL DEFAULT \'[]\'')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "tags"')
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "region"')
  }
}
