import type { MigrationInterface, QueryRunner } from 'typeorm'

/** Users and their bearer tokens on PostgreSQL: the twin of ../sqlite/1796100000000-accounts.ts. */
export class Accounts1796100000000 implements MigrationInterface {
  name = 'Accounts1796100000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "users" ("id" character varying(16) NOT NULL, "name" character varying(64) NOT NULL, "role" character varying(8) NOT NULL, ' +
      '"password_hash" character varying(255) NOT NULL, "folders" text, "created_at" bigint NOT NULL, "password_changed_at" bigint NOT NULL, ' +
      'CONSTRAINT "pk_users" PRIMARY KEY ("id"))'
    )
    await queryRunner.query('CREATE UNIQUE INDEX "idx_users_name" ON "users" ("name")')
    await queryRunner.query(
      'CREATE TABLE "access_tokens" ("id" character varying(16) NOT NULL, "user_id" character varying(16) NOT NULL, "kind" character varying(8) NOT NULL, ' +
      '"name" character varying(64), "hash" character varying(64) NOT NULL, "created_at" bigint NOT NULL, "last_used_at" bigint, "expires_at" bigint, ' +
      'CONSTRAINT "pk_access_tokens" PRIMARY KEY ("id"), ' +
      'CONSTRAINT "fk_access_tokens_user" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query('CREATE INDEX "idx_access_tokens_user" ON "access_tokens" ("user_id")')
    await queryRunner.query('CREATE UNIQUE INDEX "idx_access_tokens_hash" ON "access_tokens" ("hash")')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_access_tokens_hash"')
    await queryRunner.query('DROP INDEX "idx_access_tokens_user"')
    await queryRunner.query('DROP TABLE "access_tokens"')
    await queryRunner.query('DROP INDEX "idx_users_name"')
    await queryRunner.query('DROP TABLE "users"')
  }
}
