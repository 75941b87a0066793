import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `node_invitations`: one-time invitations for CDN nodes to join (issue 14, `cidcast nodes invite`). */
export class NodeInvitations1796600000000 implements MigrationInterface {
  name = 'NodeInvitations1796600000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "node_invitations" ("id" varchar(16) PRIMARY KEY NOT NULL, "secret_hash" varchar(64) NOT NULL, "name" varchar(300), ' +
      '"mode" varchar(8) NOT NULL, "owner" varchar(64), "created_by" varchar(16), "created_at" bigint NOT NULL, "expires_at" bigint NOT NULL, ' +
      '"spent_at" bigint, "spent_by" varchar(128), "revoked_at" bigint)'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "node_invitations"')
  }
}
