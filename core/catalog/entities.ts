import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm'
import { bigintNumber, jsonStrings, millisDate } from './transformers.ts'

/*
 * The catalog's tables. Every column names its type, since tsx emits no decorator metadata, and every type is
 * one that SQLite and PostgreSQL both accept with the same meaning:
 * - 'float' is an 8-byte double on both (TypeORM maps it to `double precision` on PostgreSQL);
 * - 'bigint' holds byte sizes and timestamps; PostgreSQL's driver returns int8 as a string, hence `Number()`;
 * - timestamps are integer milliseconds since the epoch (UTC), so they sort, compare and survive both drivers
 *   without any time-zone or `datetime` format question.
 * Columns are snake_case so hand-written SQL on PostgreSQL needs no quotes.
 */

/** One source file, identified by the CID of its bytes. */
@Entity('media')
@Unique('uq_media_source_cid', ['sourceCid'])
// a page of the library in any order (date added, title, year), of all media or after a filter (kind, other), is a
// walk along one of these; the id breaks ties (core/catalog/media-list.ts)
@Index('idx_media_created_at', ['createdAt', 'id'])
@Index('idx_media_sort_key', ['sortKey', 'id'])
@Index('idx_media_year', ['yearRank', 'sortKey', 'id'])
@Index('idx_media_kind_created_at', ['kind', 'createdAt', 'id'])
@Index('idx_media_kind_sort_key', ['kind', 'sortKey', 'id'])
@Index('idx_media_kind_year', ['kind', 'yearRank', 'sortKey', 'id'])
@Index('idx_media_other_created_at', ['other', 'createdAt', 'id'])
@Index('idx_media_other_sort_key', ['other', 'sortKey', 'id'])
@Index('idx_media_other_year', ['other', 'yearRank', 'sortKey', 'id'])
export class Media {
  /** Short id derived from the source CID by the caller. */
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_media' })
  id!: string

  @Column('varchar', { name: 'source_cid', length: 128 })
  sourceCid!: string

  /** Last known path of the file on disk. */
  @Column('text')
  path!: string

  @Column('text')
  title!: string

  /** What the library sorts titles by (sort-key.ts), kept in step with the title and sort title. */
  @Column('text', { name: 'sort_key', default: '' })
  sortKey!: string

  /** The metadata's kind ('movie' | 'episode' | 'extra'), null before any: kept in step with it, what `kind` lists by. */
  @Column('varchar', { length: 16, nullable: true })
  kind!: string | null

  /** Neither the movie grid nor a series shows it (no metadata, an extra, an episode without series or season). */
  @Column('boolean', { default: true })
  other!: boolean

  /** Year order, newest first: 9999 - year, 10000 when the year is unknown (so those come last). */
  @Column('integer', { name: 'year_rank', default: 10000 })
  yearRank!: number

  @Column('float', { name: 'duration_seconds' })
  durationSeconds!: number

  @Column('bigint', { name: 'size_bytes', transformer: bigintNumber })
  sizeBytes!: number

  /** JSON of the probe summary; parsed by the catalog. */
  @Column('text')
  probe!: string

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/** One (source, profile, encoder fingerprint): a set of segments that becomes one DAG when complete. */
@Entity('renditions')
@Unique('uq_renditions_media_profile_fingerprint', ['mediaId', 'profile', 'fingerprint'])
export class Rendition {
  /** Hash of (source CID, profile, fingerprint), computed by the caller. */
  @PrimaryColumn('varchar', { length: 64, primaryKeyConstraintName: 'pk_renditions' })
  key!: string

  @Column('varchar', { name: 'media_id', length: 16 })
  mediaId!: string

  @ManyToOne(() => Media, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'media_id', foreignKeyConstraintName: 'fk_renditions_media' })
  media?: Media

  @Column('varchar', { length: 32 })
  profile!: string

  @Column('varchar', { length: 64 })
  fingerprint!: string

  /** 'pending' | 'partial' | 'complete'; a varchar rather than an enum so both databases read it the same. */
  @Column('varchar', { length: 16 })
  state!: string

  @Column('integer', { name: 'segment_count' })
  segmentCount!: number

  @Column('varchar', { name: 'init_cid', length: 128, nullable: true })
  initCid!: string | null

  /** Root CID of the rendition's directory DAG, once complete. */
  @Column('varchar', { length: 128, nullable: true })
  root!: string | null

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/** Segment `index` of a rendition -> the CID of its bytes. */
@Entity('segments')
export class Segment {
  @PrimaryColumn('varchar', { name: 'rendition_key', length: 64, primaryKeyConstraintName: 'pk_segments' })
  renditionKey!: string

  /** Stored as `segment_index`: `index` is a reserved word in SQL. */
  @PrimaryColumn('integer', { name: 'segment_index', primaryKeyConstraintName: 'pk_segments' })
  index!: number

  @ManyToOne(() => Rendition, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rendition_key', foreignKeyConstraintName: 'fk_segments_rendition' })
  rendition?: Rendition

  @Column('varchar', { length: 128 })
  cid!: string

  @Column('integer')
  bytes!: number

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date
}

/**
 * A main server's claim on the segments one of its ffmpeg sessions is making (transcode-lease-repository.ts): other
 * servers on the same database wait for those segments instead of starting ffmpeg for them too. No foreign key: a
 * lease lives seconds, outlives nothing, and is dropped by expiry alone.
 */
@Entity('transcode_leases')
@Index('idx_transcode_leases_rendition_key', ['renditionKey'])
export class TranscodeLease {
  /** 24 random hex digits. */
  @PrimaryColumn('varchar', { length: 24, primaryKeyConstraintName: 'pk_transcode_leases' })
  id!: string

  @Column('varchar', { name: 'rendition_key', length: 64 })
  renditionKey!: string

  /** The segment the session started at. */
  @Column('integer', { name: 'start_index' })
  startIndex!: number

  /** The next segment the session will store, as its last renewal said. */
  @Column('integer')
  position!: number

  /** The server holding it: its peer ID. */
  @Column('varchar', { length: 128 })
  owner!: string

  /** Epoch milliseconds by the database's clock (dialect.ts): past it, the lease is nobody's. */
  @Column('bigint', { name: 'expires_at', transformer: bigintNumber })
  expiresAt!: number
}

/** Where a user stopped watching a media, for "continue watching". */
@Entity('playback_progress')
@Index('idx_playback_progress_user_updated', ['userId', 'updatedAt'])
export class PlaybackProgress {
  @PrimaryColumn('varchar', { name: 'user_id', length: 64, primaryKeyConstraintName: 'pk_playback_progress' })
  userId!: string

  @PrimaryColumn('varchar', { name: 'media_id', length: 16, primaryKeyConstraintName: 'pk_playback_progress' })
  mediaId!: string

  @ManyToOne(() => Media, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'media_id', foreignKeyConstraintName: 'fk_playback_progress_media' })
  media?: Media

  @Column('float', { name: 'position_seconds' })
  positionSeconds!: number

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/**
 * A CDN node registered with this main server (core/replication/registry.ts), one per peer ID. Revoked nodes
 * stay (with `revoked_at`), so their label stays taken and their peer ID stays refused across restarts.
 */
@Entity('nodes')
@Unique('uq_nodes_label', ['label'])
export class Node {
  @PrimaryColumn('varchar', { name: 'peer_id', length: 128, primaryKeyConstraintName: 'pk_nodes' })
  peerId!: string

  /** The name the node asked for (up to 300 characters, any script). */
  @Column('text')
  name!: string

  /** Its DNS label in the zone: unique, and kept by the peer across restarts. */
  @Column('varchar', { length: 63 })
  label!: string

  @Column('varchar', { length: 128 })
  ipns!: string

  /** 'shared' | 'local' */
  @Column('varchar', { length: 16 })
  mode!: string

  @Column('text')
  url!: string

  /** JSON array of multiaddr strings. */
  @Column('text')
  addresses!: string

  @Column('bigint', { name: 'quota_bytes', transformer: bigintNumber })
  quotaBytes!: number

  @Column('bigint', { name: 'used_bytes', transformer: bigintNumber })
  usedBytes!: number

  @Column('bigint', { name: 'free_bytes', transformer: bigintNumber })
  freeBytes!: number

  /** JSON of the last reported health, null before the first heartbeat. */
  @Column('text', { nullable: true })
  health!: string | null

  /** JSON array of the root CIDs the node last reported pinned. */
  @Column('text')
  pinned!: string

  @Column('bigint', { name: 'last_seen', nullable: true, transformer: millisDate })
  lastSeen!: Date | null

  @Column('bigint', { name: 'revoked_at', nullable: true, transformer: millisDate })
  revokedAt!: Date | null

  /** The user id of the node's owner (`--owner`); kept when that user is removed, so the node then serves nobody. */
  @Column('varchar', { length: 16, nullable: true })
  owner!: string | null

  /** Where the node says it is (`--region`), null for none. */
  @Column('varchar', { length: 32, nullable: true })
  region!: string | null

  /** JSON array of its tags (`--tags`). */
  @Column('text', { default: '[]', transformer: jsonStrings })
  tags!: string[]

  /** The cidcast version it registered with; null for nodes that did not say. */
  @Column('varchar', { length: 64, nullable: true })
  version!: string | null

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}
