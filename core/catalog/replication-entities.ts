import { Column, Entity, Index, PrimaryColumn } from 'typeorm'
import { bigintNumber, jsonStrings, millisDate } from './transformers.ts'

/*
 * The content index (issue #4, core/replication/content-index.ts): one row per (node, root CID), as nodes report
 * it. Same conventions as entities.ts: explicit portable column types, snake_case names, integer milliseconds.
 * No foreign key to `nodes`: node rows are never deleted (revoked ones stay), and index rows of a node must
 * outlive anything that happens to its registration.
 */

/** Where one root CID stands on one node: the state last reported, the order in flight, progress and errors. */
@Entity('content_index')
@Index('idx_content_index_cid', ['cid'])
export class ContentIndexEntry {
  @PrimaryColumn('varchar', { name: 'peer_id', length: 128, primaryKeyConstraintName: 'pk_content_index' })
  peerId!: string

  @PrimaryColumn('varchar', { length: 128, primaryKeyConstraintName: 'pk_content_index' })
  cid!: string

  /** 'queued' | 'pinning' | 'pinned' | 'failed' | 'unpinning' */
  @Column('varchar', { length: 16 })
  state!: string

  /** What the main server wants: 'pin' | 'unpin'; null for a root the node holds without an order of ours. */
  @Column('varchar', { name: 'wanted', length: 8, nullable: true })
  wanted!: string | null

  /** The order in flight or last sent (null: none). */
  @Column('varchar', { name: 'order_id', length: 64, nullable: true })
  orderId!: string | null

  /** The media and profile the root is a rendition of, when known (for listings). */
  @Column('varchar', { name: 'media_id', length: 16, nullable: true })
  mediaId!: string | null

  @Column('varchar', { length: 32, nullable: true })
  profile!: string | null

  /** Placed by the distributor (issue 13): evictable by it; false for pins someone asked for. */
  @Column('boolean', { default: false })
  auto!: boolean

  @Column('bigint', { name: 'blocks_done', transformer: bigintNumber })
  blocksDone!: number

  @Column('bigint', { name: 'bytes_done', transformer: bigintNumber })
  bytesDone!: number

  @Column('bigint', { name: 'blocks_total', nullable: true, transformer: bigintNumber })
  blocksTotal!: number | null

  @Column('bigint', { name: 'bytes_total', nullable: true, transformer: bigintNumber })
  bytesTotal!: number | null

  @Column('varchar', { name: 'error_name', length: 64, nullable: true })
  errorName!: string | null

  @Column('text', { name: 'error_message', nullable: true })
  errorMessage!: string | null

  /** Orders sent for the current wish (1 after the first; a retry adds one). */
  @Column('integer')
  attempts!: number

  /** When the next automatic retry of a failed pin is due (null: none planned). */
  @Column('bigint', { name: 'retry_at', nullable: true, transformer: millisDate })
  retryAt!: Date | null

  /** When the current order was sent. */
  @Column('bigint', { name: 'ordered_at', nullable: true, transformer: millisDate })
  orderedAt!: Date | null

  /** When the node last reported on this root (an order report or its pinned list). */
  @Column('bigint', { name: 'reported_at', nullable: true, transformer: millisDate })
  reportedAt!: Date | null

  /** When the progress last moved (to tell a stalled pin from a slow one). */
  @Column('bigint', { name: 'progress_at', nullable: true, transformer: millisDate })
  progressAt!: Date | null

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/**
 * A replication factor the main server keeps for a root (`--replicas MIN:MAX`, IPFS Cluster's replication factor):
 * when fewer than MIN nodes can still hold it (a node offline too long, revoked, or failed for good), the pin is
 * placed on other nodes.
 */
@Entity('replication_goals')
export class ReplicationGoalRow {
  @PrimaryColumn('varchar', { length: 128, primaryKeyConstraintName: 'pk_replication_goals' })
  cid!: string

  @Column('integer', { name: 'min_replicas' })
  min!: number

  @Column('integer', { name: 'max_replicas' })
  max!: number

  @Column('varchar', { name: 'media_id', length: 16, nullable: true })
  mediaId!: string | null

  @Column('varchar', { length: 32, nullable: true })
  profile!: string | null

  /** Peer IDs unpinned from this root by hand: never chosen for it again (JSON array). */
  @Column('text', { transformer: jsonStrings })
  excluded!: string[]

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/**
 * A replication asked for a rendition the main server makes first (core/replication/prepare.ts): kept
 * until its pin is ordered, so a restart of the main server in the meantime takes it up again.
 */
@Entity('replication_preparations')
export class PreparationRow {
  @PrimaryColumn('varchar', { name: 'media_id', length: 16, primaryKeyConstraintName: 'pk_replication_preparations' })
  mediaId!: string

  @PrimaryColumn('varchar', { length: 32, primaryKeyConstraintName: 'pk_replication_preparations' })
  profile!: string

  /** A node's label, or `replicas MIN:MAX`. */
  @PrimaryColumn('varchar', { length: 96, primaryKeyConstraintName: 'pk_replication_preparations' })
  target!: string

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date
}

/** The entities of this file, for CATALOG_ENTITIES. */
export const REPLICATION_ENTITIES = [ContentIndexEntry, ReplicationGoalRow, PreparationRow]
