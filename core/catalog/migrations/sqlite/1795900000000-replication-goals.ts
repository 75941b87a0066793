import type { MigrationInterface, QueryRunner } from 'typeorm'

/**
 * Replication factors kept per root, and replications waiting for a rendition to be made
 * (core/catalog/replication-entities.ts: `ReplicationGoalRow`, `PreparationRow`). Written as TypeORM's schema
 * builder writes it (a test checks that it finds nothing left to change).
 */
export class ReplicationGoals1795900000000 implements MigrationInterface {
  name = 'ReplicationGoals1795900000000'

  async up (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "replication_goals" (' +
      '"cid" varchar(128) PRIMARY KEY NOT NULL, "min_replicas" integer NOT NULL, "max_replicas" integer NOT NULL, ' +
      '"media_id" varchar(16), "profile" varchar(32), "excluded" text NOT NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL)'
    )
    await queryRunner.query(
      'CREATE TABLE "replication_preparations" (' +
      '"media_id" varchar(16) NOT NULL, "profile" varchar(32) NOT NULL, "target" varchar(96) NOT NULL, "created_at" bigint NOT NULL, ' +
      'PRIMARY KEY ("media_id", "profile", "target"))'
    )
  }

  async down (queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "replication_preparations"')
    await queryRunner.query('DROP TABLE "replication_goals"')
  }
}
