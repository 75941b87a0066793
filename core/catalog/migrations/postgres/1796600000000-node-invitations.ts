import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `node_invitations` on PostgreSQL: the twin of ../sqlite/1796600000000-node-invitations.ts. */
export class NodeInvitations1796600000000 implements MigrationInterface {
  name = 'NodeInvitations1796600000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "node_invitations" ("id" character varying(16) NOT NULL, "secret_hash" character varying(64) NOT NULL, ' +
      '"name" character varying(300), "mode" character varying(8) NOT NULL, "owner" character varying(64), "created_by" character varying(16), ' +
      '"created_at" bigint NOT NULL, "expires_at" bigint NOT NULL, "spent_at" bigint, "spent_by" character varying(128), "revoked_at" bigint, ' +
      'CONSTRAINT "pk_node_invitations" PRIMARY KEY ("id"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "node_invitations"')
  }
}
