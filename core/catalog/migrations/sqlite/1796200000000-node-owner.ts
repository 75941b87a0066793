import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * `nodes.owner`: the user id of a node's owner (`cidcast node --owner USER`), null for a node without one. No
 * foreign key: when the user is removed the id stays, and a local node then serves nobody.
 */
export class NodeOwner1796200000000 implements MigrationInterface {
  name = 'NodeOwner1796200000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD COLUMN "owner" varchar(16)')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "owner"')
  }
}
