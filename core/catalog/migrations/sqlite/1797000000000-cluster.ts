import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `main_servers` and `stream_keys`: several main servers on one database (issue 15, item 2). */
export class Cluster1797000000000 implements MigrationInterface {
  name = 'Cluster1797000000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "main_servers" ("peer_id" varchar(128) PRIMARY KEY NOT NULL, "url" varchar(2048) NOT NULL, "addresses" text NOT NULL, ' +
      '"dns" varchar(300), "version" varchar(64) NOT NULL, "started_at" bigint NOT NULL, "seen_at" bigint NOT NULL, "leading_since" bigint, "swarm" varchar(16) NOT NULL)'
    )
    await queryRunner.query(
      'CREATE TABLE "stream_keys" ("id" varchar(64) PRIMARY KEY NOT NULL, "public_key" varchar(64) NOT NULL, "private_key" varchar(64) NOT NULL, ' +
      '"created_at" bigint NOT NULL, "retired_at" bigint)'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "stream_keys"')
    await queryRunner.query('DROP TABLE "main_servers"')
  }
}
