import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * Users and their bearer tokens (core/catalog/access-entities.ts: `UserRow`, `AccessTokenRow`). Written as
 * TypeORM's schema builder writes it (a test checks that it finds nothing left to change).
 */
export class Accounts1796100000000 implements MigrationInterface {
  name = 'Accounts1796100000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "users" ("id" varchar(16) PRIMARY KEY NOT NULL, "name" varchar(64) NOT NULL, "role" varchar(8) NOT NULL, ' +
      '"password_hash" varchar(255) NOT NULL, "folders" text, "created_at" bigint NOT NULL, "password_changed_at" bigint NOT NULL)'
    )
    await queryRunner.query('CREATE UNIQUE INDEX "idx_users_name" ON "users" ("name") ')
    await queryRunner.query(
      'CREATE TABLE "access_tokens" ("id" varchar(16) PRIMARY KEY NOT NULL, "user_id" varchar(16) NOT NULL, "kind" varchar(8) NOT NULL, ' +
      '"name" varchar(64), "hash" varchar(64) NOT NULL, "created_at" bigint NOT NULL, "last_used_at" bigint, "expires_at" bigint, ' +
      'CONSTRAINT "fk_access_tokens_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)'
    )
    await queryRunner.query('CREATE INDEX "idx_access_tokens_user" ON "access_tokens" ("user_id") ')
    await queryRunner.query('CREATE UNIQUE INDEX "idx_access_tokens_hash" ON "access_tokens" ("hash") ')
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "idx_access_tokens_hash"')
    await queryRunner.query('DROP INDEX "idx_access_tokens_user"')
    await queryRunner.query('DROP TABLE "access_tokens"')
    await queryRunner.query('DROP INDEX "idx_users_name"')
    await queryRunner.query('DROP TABLE "users"')
  }
}
