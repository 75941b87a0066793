import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { millisDate } from './transformers.ts'
import type { Media } from './entities.ts'

/*
 * The metadata tables (issue #5): series -> seasons, collections, one metadata row per media, the audit trail
 * of every change, and the images fetched once and stored in IPFS. Same conventions as entities.ts: explicit
 * portable column types, snake_case names, integer-millisecond timestamps. (Media is referenced
 * by its entity name: this file points at entities.ts, never the other way; all-entities.ts lists both.)
 */

/** A TV series: the parent of seasons and episodes. */
@Entity('series')
@Index('idx_series_tmdb_id', ['tmdbId'])
@Index('idx_series_tvdb_id', ['tvdbId'])
@Index('idx_series_imdb_id', ['imdbId'])
export class Series {
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_series' })
  id!: string

  @Column('text')
  title!: string

  @Column('text', { name: 'original_title', nullable: true })
  originalTitle!: string | null

  @Column('integer', { nullable: true })
  year!: number | null

  @Column('text', { nullable: true })
  overview!: string | null

  @Column('varchar', { name: 'imdb_id', length: 16, nullable: true })
  imdbId!: string | null

  @Column('integer', { name: 'tmdb_id', nullable: true })
  tmdbId!: number | null

  @Column('integer', { name: 'tvdb_id', nullable: true })
  tvdbId!: number | null

  @Column('varchar', { name: 'poster_cid', length: 128, nullable: true })
  posterCid!: string | null

  @Column('varchar', { name: 'backdrop_cid', length: 128, nullable: true })
  backdropCid!: string | null

  /** The series folder on disk, where tvshow.nfo lives. */
  @Column('text', { nullable: true })
  folder!: string | null

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/** One season of a series: number, name, poster. */
@Entity('seasons')
export class Season {
  @PrimaryColumn('varchar', { name: 'series_id', length: 16, primaryKeyConstraintName: 'pk_seasons' })
  seriesId!: string

  @PrimaryColumn('integer', { primaryKeyConstraintName: 'pk_seasons' })
  number!: number

  @ManyToOne(() => Series, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'series_id', foreignKeyConstraintName: 'fk_seasons_series' })
  series?: Series

  @Column('text', { nullable: true })
  title!: string | null

  @Column('text', { nullable: true })
  overview!: string | null

  @Column('varchar', { name: 'poster_cid', length: 128, nullable: true })
  posterCid!: string | null
}

/** A movie collection (sequels). */
@Entity('collections')
@Index('idx_collections_tmdb_id', ['tmdbId'])
export class Collection {
  @PrimaryColumn('varchar', { length: 16, primaryKeyConstraintName: 'pk_collections' })
  id!: string

  @Column('text')
  title!: string

  @Column('text', { nullable: true })
  overview!: string | null

  @Column('integer', { name: 'tmdb_id', nullable: true })
  tmdbId!: number | null

  @Column('varchar', { name: 'poster_cid', length: 128, nullable: true })
  posterCid!: string | null

  @Column('varchar', { name: 'backdrop_cid', length: 128, nullable: true })
  backdropCid!: string | null

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/** What is known about one media: a movie, an episode or an extra. */
@Entity('media_metadata')
@Index('idx_media_metadata_series_order', ['seriesId', 'seasonNumber', 'episodeNumber'])
@Index('idx_media_metadata_collection', ['collectionId'])
export class MediaMetadata {
  @PrimaryColumn('varchar', { name: 'media_id', length: 16, primaryKeyConstraintName: 'pk_media_metadata' })
  mediaId!: string

  @ManyToOne('Media', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'media_id', foreignKeyConstraintName: 'fk_media_metadata_media' })
  media?: Media

  /** 'movie' | 'episode' | 'extra' */
  @Column('varchar', { length: 16 })
  kind!: string

  @Column('text')
  title!: string

  @Column('text', { name: 'original_title', nullable: true })
  originalTitle!: string | null

  @Column('text', { name: 'sort_title', nullable: true })
  sortTitle!: string | null

  @Column('integer', { nullable: true })
  year!: number | null

  /** YYYY-MM-DD */
  @Column('varchar', { name: 'release_date', length: 10, nullable: true })
  releaseDate!: string | null

  @Column('text', { nullable: true })
  overview!: string | null

  @Column('text', { nullable: true })
  tagline!: string | null

  @Column('varchar', { name: 'imdb_id', length: 16, nullable: true })
  imdbId!: string | null

  @Column('integer', { name: 'tmdb_id', nullable: true })
  tmdbId!: number | null

  @Column('integer', { name: 'tvdb_id', nullable: true })
  tvdbId!: number | null

  @Column('varchar', { name: 'series_id', length: 16, nullable: true })
  seriesId!: string | null

  @ManyToOne(() => Series, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'series_id', foreignKeyConstraintName: 'fk_media_metadata_series' })
  series?: Series | null

  @Column('integer', { name: 'season_number', nullable: true })
  seasonNumber!: number | null

  @Column('integer', { name: 'episode_number', nullable: true })
  episodeNumber!: number | null

  @Column('integer', { name: 'episode_end', nullable: true })
  episodeEnd!: number | null

  @Column('varchar', { name: 'collection_id', length: 16, nullable: true })
  collectionId!: string | null

  @ManyToOne(() => Collection, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'collection_id', foreignKeyConstraintName: 'fk_media_metadata_collection' })
  collection?: Collection | null

  @Column('varchar', { name: 'extra_type', length: 32, nullable: true })
  extraType!: string | null

  /** The folder the item belongs to: a movie's folder, a series folder, or an extra's owner. */
  @Column('text')
  folder!: string

  @Column('varchar', { name: 'poster_cid', length: 128, nullable: true })
  posterCid!: string | null

  @Column('varchar', { name: 'backdrop_cid', length: 128, nullable: true })
  backdropCid!: string | null

  @Column('varchar', { name: 'still_cid', length: 128, nullable: true })
  stillCid!: string | null

  /** JSON array of field names a user edited: later identification leaves them alone. */
  @Column('text')
  locked!: string

  /** The best source that described it: 'path' | 'nfo' | 'tmdb' | 'tvdb' | 'omdb' | 'user'. */
  @Column('varchar', { length: 16 })
  source!: string

  /** When providers last identified it. */
  @Column('bigint', { name: 'identified_at', nullable: true, transformer: millisDate })
  identifiedAt!: Date | null

  @Column('bigint', { name: 'updated_at', transformer: millisDate })
  updatedAt!: Date
}

/** One change to a media's metadata: who, when, and each field's value before and after. */
@Entity('metadata_audit')
@Index('idx_metadata_audit_media', ['mediaId', 'id'])
export class MetadataAudit {
  @PrimaryGeneratedColumn('increment', { primaryKeyConstraintName: 'pk_metadata_audit' })
  id!: number

  @Column('varchar', { name: 'media_id', length: 16 })
  mediaId!: string

  @ManyToOne('Media', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'media_id', foreignKeyConstraintName: 'fk_metadata_audit_media' })
  media?: Media

  @Column('bigint', { transformer: millisDate })
  at!: Date

  /** 'user' | 'path' | 'nfo' | a provider name | 'identify' */
  @Column('varchar', { length: 64 })
  actor!: string

  /** 'identify' | 'edit' | 'revert' */
  @Column('varchar', { length: 16 })
  action!: string

  /** JSON: { field: { from, to } } */
  @Column('text')
  changes!: string

  /** The entry this one reverted. */
  @Column('integer', { nullable: true })
  reverts!: number | null
}

/**
 * What a search of the library scans (search-text.ts), one row per media with metadata, kept in step by every save: a
 * table of its own, narrow, so a scan of a whole library reads a third of the pages `media_metadata` would.
 */
@Entity('media_search')
export class MediaSearch {
  @PrimaryColumn('varchar', { name: 'media_id', length: 16, primaryKeyConstraintName: 'pk_media_search' })
  mediaId!: string

  @ManyToOne('Media', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'media_id', foreignKeyConstraintName: 'fk_media_search_media' })
  media?: Media

  /** Its title as shown: what the results are ordered by. */
  @Column('text')
  title!: string

  /** Its titles in lower case, every letter folded, one line each. */
  @Column('text')
  text!: string
}

/** An image fetched once (by source URL or local file) and stored in IPFS. */
@Entity('images')
@Index('idx_images_cid', ['cid'])
export class StoredImage {
  /** sha256 hex of the source. */
  @PrimaryColumn('varchar', { name: 'source_hash', length: 64, primaryKeyConstraintName: 'pk_images' })
  sourceHash!: string

  @Column('text')
  source!: string

  @Column('varchar', { length: 128 })
  cid!: string

  @Column('varchar', { length: 32 })
  type!: string

  @Column('integer')
  bytes!: number

  @Column('bigint', { name: 'created_at', transformer: millisDate })
  createdAt!: Date
}

/** The metadata entities, for CATALOG_ENTITIES. */
export const METADATA_ENTITIES = [Series, Season, Collection, MediaMetadata, MediaSearch, MetadataAudit, StoredImage]
