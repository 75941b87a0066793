import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * Replication factors kept per root, and replications waiting for a rendition, on PostgreSQL. The twin of
 * ../sqlite/1795900000000-replication-goals.ts.
 */
export class ReplicationGoals1795900000000 implements MigrationInterface {
  name = 'ReplicationGoals1795900000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "replication_goals" (' +
      '"cid" character varying(128) NOT NULL, "min_replicas" integer NOT NULL, "max_replicas" integer NOT NULL, ' +
      '"media_id" character varying(16), "profile" character varying(32), "excluded" text NOT NULL, ' +
      '"created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, CONSTRAINT "pk_replication_goals" PRIMARY KEY ("cid"))'
    )
    await queryRunner.query(
      'CREATE TABLE "replication_preparations" (' +
      '"media_id" character varying(16) NOT NULL, "profile" character varying(32) NOT NULL, "target" character varying(96) NOT NULL, ' +
      '"created_at" bigint NOT NULL, CONSTRAINT "pk_replication_preparations" PRIMARY KEY ("media_id", "profile", "target"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "replication_preparations"')
    await queryRunner.query('DROP TABLE "replication_goals"')
  }
}
