import type { MigrationInterface, QueryRunner } from 'typeorm'

/** `main_servers` and `stream_keys` on PostgreSQL: the twin of ../sqlite/1797000000000-cluster.ts. */
export class Cluster1797000000000 implements MigrationInterface {
  name = 'Cluster1797000000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "main_servers" ("peer_id" character varying(128) NOT NULL, "url" character varying(2048) NOT NULL, "addresses" text NOT NULL, ' +
      '"dns" character varying(300), "version" character varying(64) NOT NULL, "started_at" bigint NOT NULL, "seen_at" bigint NOT NULL, "leading_since" bigint, "swarm" character varying(16) NOT NULL, ' +
      'CONSTRAINT "pk_main_servers" PRIMARY KEY ("peer_id"))'
    )
    await queryRunner.query(
      'CREATE TABLE "stream_keys" ("id" character varying(64) NOT NULL, "public_key" character varying(64) NOT NULL, ' +
      '"private_key" character varying(64) NOT NULL, "created_at" bigint NOT NULL, "retired_at" bigint, CONSTRAINT "pk_stream_keys" PRIMARY KEY ("id"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "stream_keys"')
    await queryRunner.query('DROP TABLE "main_servers"')
  }
}
