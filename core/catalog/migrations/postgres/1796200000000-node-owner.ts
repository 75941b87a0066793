import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `nodes.owner` on PostgreSQL: the twin of ../sqlite/1796200000000-node-owner.ts (no foreign key either). */
export class NodeOwner1796200000000 implements MigrationInterface {
  name = 'NodeOwner1796200000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" ADD "owner" character varying(16)')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "nodes" DROP COLUMN "owner"')
  }
}
