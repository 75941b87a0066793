import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `nodes.version` on PostgreSQL: the twin of ../sqlite/1796700000000-node-version.ts. */
export class NodeVersion1796700000000 implements MigrationInterface {
  name = 'NodeVersion1796700000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD "version" character varying(64)')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "version"')
  }
}
