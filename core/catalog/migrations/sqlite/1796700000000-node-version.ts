import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `nodes.version`: the cidcast version a node registered with (issue 14), null for nodes from before it was sent. */
export class NodeVersion1796700000000 implements MigrationInterface {
  name = 'NodeVersion1796700000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD COLUMN "version" varchar(64)')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "version"')
  }
}
