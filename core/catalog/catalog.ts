import { InvalidRequestError, MediaNotFoundError } from '../errors.ts'
import { describeDatabase, parseDatabase } from '../database-url.ts'
import { createCatalogQueue, isBusy, isUnreachable } from './busy.ts'
import { checkId, count, missingSegments } from './checks.ts'
import { openCatalogDatabase } from './dialect.ts'
import { Media, PlaybackProgress, Rendition, Segment } from './entities.ts'
import { CatalogNotStartedError, CatalogUnavailableError, IncompleteRenditionError, RenditionNotFoundError } from './errors.ts'
import { filteredMedia, listColumns, mediaIdInScope, orderedMedia } from './media-list.ts'
import { defaultOrder } from '../media-query.ts'
import { toMediaRecord, toProgressRecord, toRenditionRecord } from './records.ts'
import { createRepositories } from './repositories.ts'
import { sortKey } from './sort-key.ts'
import type { LibraryScope, MediaFilter, MediaListOptions } from '../media-query.ts'
import type { MediaInput, MediaRecord, ProgressRecord, RenditionInput, RenditionRecord, SegmentRecord } from './records.ts'
import type { CatalogLockStats, CatalogQueue } from './busy.ts'
import type { CatalogRepositories } from './repositories.ts'
import type { DatabaseTarget } from '../database-url.ts'
import type { CatalogDatabase } from './dialect.ts'
import { createLeaderLock } from './leader-lock.ts'
import type { LeaderLock } from './leader-lock.ts'
import type { Logger } from '../logger.ts'
import { In } from 'typeorm'
import type { DataSource, EntityManager } from 'typeorm'

export type { MediaInput, MediaRecord, ProgressRecord, RenditionInput, RenditionRecord, RenditionState, SegmentRecord } from './records.ts'
export { IncompleteRenditionError, RenditionNotFoundError, CatalogNotStartedError } from './errors.ts'
export { sortKey } from './sort-key.ts'
export type { CatalogRepositories } from './repositories.ts'
export type { CatalogLockStats } from './busy.ts'
export { CatalogBusyError, CatalogUnavailableError, UnsuitableDatabaseError } from './errors.ts'

export interface CatalogComponents {
  logger: Logger
}

export interface CatalogInit {
  /**
   * Where the catalog lives (core/database-url.ts): `sqlite:<path>` or a bare path (its folder is created), ':memory:',
   * or `postgres://user:password@host:port/database`.
   */
  database: string
  /**
   * How long a call waits for a database another process holds locked before it fails with CatalogBusyError,
   * counted from the call (time queued behind other writes included). @default 30000
   */
  busyWaitMs?: number
}

export interface ListOptions {
  /** @default 100 */
  limit?: number
  /** @default 0 */
  offset?: number
}

export interface Catalog {
  /** Opens the database and runs pending migrations; a second call does nothing. */
  start(): Promise<void>
  /** Waits for queued writes, then closes the database. */
  stop(): Promise<void>
  /** Adds a media, or refreshes the path of the one with the same source CID (`created: false`). */
  upsertMedia(input: MediaInput): Promise<{ media: MediaRecord, created: boolean }>
  getMedia(id: string): Promise<MediaRecord | undefined>
  getMediaBySourceCid(cid: string): Promise<MediaRecord | undefined>
  /** The media of these ids that exist, in the order of `ids` (one query for a page of results). */
  getMediaMany(ids: readonly string[]): Promise<MediaRecord[]>
  /** A page of the media matching `options.kind`, in the order asked (newest first by default). */
  listMedia(options?: MediaListOptions): Promise<MediaRecord[]>
  /** How many media match the filter, in all. */
  countMedia(filter?: MediaFilter): Promise<number>
  /** Deletes a media with its renditions, segments and progress; false if there was none. */
  deleteMedia(id: string): Promise<boolean>
  /** Returns the rendition with this key, creating it ('pending') if needed; throws MediaNotFoundError. */
  ensureRendition(input: RenditionInput): Promise<RenditionRecord>
  getRendition(key: string): Promise<RenditionRecord | undefined>
  listRenditions(mediaId: string): Promise<RenditionRecord[]>
  /** The renditions of each of these media (one query for a page of the library), as `listRenditions` orders them. */
  listRenditionsOf(mediaIds: readonly string[]): Promise<Map<string, RenditionRecord[]>>
  /** Records segment `index`; an existing one keeps its first CID. Moves a 'pending' rendition to 'partial'. */
  putSegment(renditionKey: string, index: number, cid: string, bytes: number): Promise<void>
  /** One primary-key lookup: the hot path of segment requests. */
  getSegment(renditionKey: string, index: number): Promise<{ cid: string, bytes: number } | undefined>
  /** Ordered by index. */
  listSegments(renditionKey: string): Promise<SegmentRecord[]>
  countSegments(renditionKey: string): Promise<number>
  /** Records the init segment's CID; an existing one is kept. */
  setInit(renditionKey: string, cid: string): Promise<void>
  /** Marks a rendition complete with its root CID; throws IncompleteRenditionError if anything is missing. */
  completeRendition(renditionKey: string, root: string): Promise<void>
  setProgress(userId: string, mediaId: string, positionSeconds: number): Promise<void>
  getProgress(userId: string, mediaId: string): Promise<ProgressRecord | undefined>
  /** A user's progress, most recently updated first ("continue watching"), of the media in `options.folders`. */
  listProgress(userId: string, options?: ListOptions & LibraryScope): Promise<ProgressRecord[]>
  /** The stores other rooms keep in the catalog's database; their calls queue behind the catalog's writes. */
  readonly repositories: CatalogRepositories
  /** Calls waiting now for a database another process holds locked, and how many have waited or given up. */
  lockStats(): CatalogLockStats
  /** The database's dialect (known before start). */
  readonly dialect: 'sqlite' | 'postgres'
  /** A hold on the leadership of the main servers sharing this database (leader-lock.ts); after start. */
  leaderLock(): LeaderLock
}

const DEFAULT_LIMIT = 100
const DEFAULT_BUSY_WAIT_MS = 30_000

/** Creates the catalog on a SQLite or PostgreSQL database; a bad `database` setting throws InvalidConfigError at once. */
export function createCatalog (components: CatalogComponents, init: CatalogInit): Catalog {
  return new SqlCatalog(components, init)
}

class SqlCatalog implements Catalog {
  private readonly log: Logger
  private readonly target: DatabaseTarget
  private dataSource?: DataSource
  private starting?: Promise<void>
  /**
   * getSegment runs on every segment request: a prepared better-sqlite3 statement takes 3-6 µs per call here,
   * TypeORM's findOne 28-38 µs for the same primary-key lookup; on PostgreSQL a named prepared statement (dialect.ts).
   */
  private segmentLookup?: CatalogDatabase['segment']
  /** Writes run one at a time, each in a transaction; every call waits out a database locked by another process. */
  private readonly queue: CatalogQueue
  private lastMs = 0
  readonly repositories: CatalogRepositories

  constructor (components: CatalogComponents, init: CatalogInit) {
    this.log = components.logger.child({ name: 'cidcast:catalog' })
    this.target = parseDatabase(init.database)
    this.queue = createCatalogQueue(init.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS, waitMs => { this.log.warn({ waitMs }, 'the database is locked by another process; waiting for it') })
    this.repositories = createRepositories(async fn => await this.exclusive(fn), async fn => await this.read(async db => await fn(db.manager)))
  }

  lockStats (): CatalogLockStats {
    return this.queue.stats()
  }

  get dialect (): 'sqlite' | 'postgres' {
    return this.target.dialect
  }

  leaderLock (): LeaderLock {
    if (this.dataSource == null) throw new CatalogNotStartedError('the catalog is not started')
    return createLeaderLock(this.dataSource, this.target.dialect === 'postgres' ? this.target.url : undefined)
  }

  async start (): Promise<void> {
    this.starting ??= this.open().finally(() => { this.starting = undefined })
    return this.starting
  }

  private async open (): Promise<void> {
    if (this.dataSource != null) return
    const database = await openCatalogDatabase(this.target, {
      migrate: true,
      onPoolError: err => { this.log.warn({ err: { name: err.name, message: err.message } }, 'a pooled connection to the database failed') }
    })
    this.dataSource = database.dataSource
    this.segmentLookup = database.segment
    this.log.info({ database: database.description, dialect: database.dialect, migrated: database.applied }, 'catalog open')
  }

  async stop (): Promise<void> {
    await this.starting?.catch(() => {})
    const dataSource = this.dataSource
    if (dataSource == null) return
    // new calls fail from here on; queued writes hold their own handle and finish first
    this.dataSource = undefined
    this.segmentLookup = undefined
    await this.queue.idle()
    await dataSource.destroy()
    this.log.info('catalog closed')
  }

  async upsertMedia (input: MediaInput): Promise<{ media: MediaRecord, created: boolean }> {
    checkId(input.id, 16, 'media id')
    return this.exclusive(async db => {
      const media = db.getRepository(Media)
      const existing = await media.findOneBy({ sourceCid: input.sourceCid })
      if (existing != null) {
        if (existing.path !== input.path) {
          const updatedAt = this.now()
          await media.update({ id: existing.id }, { path: input.path, updatedAt })
          Object.assign(existing, { path: input.path, updatedAt })
        }
        return { media: toMediaRecord(existing), created: false }
      }
      const now = this.now()
      const row = media.create({
        id: input.id,
        sourceCid: input.sourceCid,
        path: input.path,
        title: input.title,
        sortKey: sortKey(input.title),
        // nothing identified it yet: metadata-repository.ts sets these with its metadata
        ...listColumns(),
        durationSeconds: input.durationSeconds,
        sizeBytes: input.sizeBytes,
        probe: JSON.stringify(input.probe),
        createdAt: now,
        updatedAt: now
      })
      await media.insert(row)
      this.log.debug({ id: row.id, sourceCid: row.sourceCid }, 'media added')
      return { media: toMediaRecord(row), created: true }
    })
  }

  async getMedia (id: string): Promise<MediaRecord | undefined> {
    const row = await this.read(async db => await db.getRepository(Media).findOneBy({ id }))
    return row == null ? undefined : toMediaRecord(row)
  }

  async getMediaBySourceCid (cid: string): Promise<MediaRecord | undefined> {
    const row = await this.read(async db => await db.getRepository(Media).findOneBy({ sourceCid: cid }))
    return row == null ? undefined : toMediaRecord(row)
  }

  async listMedia (options: MediaListOptions = {}): Promise<MediaRecord[]> {
    const limit = count(options.limit, DEFAULT_LIMIT)
    const offset = count(options.offset, 0)
    if (limit === 0) return []
    const sort = options.sort ?? 'added'
    // the page's ids first: a walk of one index that holds them (and, on PostgreSQL, an index-only scan past the
    // offset), then the 50 rows themselves by key, rather than every skipped row read whole
    const ids = await this.read(async db => (await orderedMedia(filteredMedia(db.manager, options).select('m.id', 'id'), sort, options.order ?? defaultOrder(sort))
      .limit(limit).offset(offset).getRawMany<{ id: string }>()).map(row => row.id))
    return await this.getMediaMany(ids)
  }

  async getMediaMany (ids: readonly string[]): Promise<MediaRecord[]> {
    if (ids.length === 0) return []
    const rows = await this.read(async db => await db.getRepository(Media).findBy({ id: In([...ids]) }))
    const byId = new Map(rows.map(row => [row.id, row]))
    return ids.flatMap(id => { const row = byId.get(id); return row == null ? [] : [toMediaRecord(row)] })
  }

  async countMedia (filter: MediaFilter = {}): Promise<number> {
    // COUNT(*), not TypeORM's getCount (a COUNT(DISTINCT id) over the whole table)
    const row = await this.read(async db => await filteredMedia(db.manager, filter).select('COUNT(*)', 'n').getRawOne<{ n: number | string }>())
    return Number(row?.n ?? 0)
  }

  async deleteMedia (id: string): Promise<boolean> {
    return this.exclusive(async db => {
      const result = await db.getRepository(Media).delete({ id })
      return (result.affected ?? 0) > 0
    })
  }

  async ensureRendition (input: RenditionInput): Promise<RenditionRecord> {
    checkId(input.key, 64, 'rendition key')
    checkId(input.profile, 32, 'profile')
    checkId(input.fingerprint, 64, 'fingerprint')
    if (!Number.isSafeInteger(input.segmentCount) || input.segmentCount < 1) {
      throw new InvalidRequestError(`segment count must be a positive integer, got ${input.segmentCount}`)
    }
    return this.exclusive(async db => {
      const renditions = db.getRepository(Rendition)
      const existing = await renditions.findOneBy({ key: input.key })
      if (existing != null) return toRenditionRecord(existing)
      if (!await db.getRepository(Media).existsBy({ id: input.mediaId })) {
        throw new MediaNotFoundError(`no media ${input.mediaId}`)
      }
      const now = this.now()
      const row = renditions.create({
        key: input.key,
        mediaId: input.mediaId,
        profile: input.profile,
        fingerprint: input.fingerprint,
        state: 'pending',
        segmentCount: input.segmentCount,
        initCid: null,
        root: null,
        createdAt: now,
        updatedAt: now
      })
      await renditions.insert(row)
      return toRenditionRecord(row)
    })
  }

  async getRendition (key: string): Promise<RenditionRecord | undefined> {
    const row = await this.read(async db => await db.getRepository(Rendition).findOneBy({ key }))
    return row == null ? undefined : toRenditionRecord(row)
  }

  async listRenditions (mediaId: string): Promise<RenditionRecord[]> {
    const rows = await this.read(async db => await db.getRepository(Rendition).find({
      where: { mediaId },
      order: { createdAt: 'ASC', key: 'ASC' }
    }))
    return rows.map(toRenditionRecord)
  }

  async listRenditionsOf (mediaIds: readonly string[]): Promise<Map<string, RenditionRecord[]>> {
    const out = new Map<string, RenditionRecord[]>(mediaIds.map(id => [id, []]))
    if (mediaIds.length === 0) return out
    const rows = await this.read(async db => await db.getRepository(Rendition).find({
      where: { mediaId: In([...mediaIds]) },
      order: { createdAt: 'ASC', key: 'ASC' }
    }))
    for (const row of rows) out.get(row.mediaId)?.push(toRenditionRecord(row))
    return out
  }

  async putSegment (renditionKey: string, index: number, cid: string, bytes: number): Promise<void> {
    await this.exclusive(async db => {
      const rendition = await this.renditionOrThrow(db, renditionKey)
      if (!Number.isSafeInteger(index) || index < 0 || index >= rendition.segmentCount) {
        throw new RangeError(`segment ${index} is outside 0..${rendition.segmentCount - 1} of rendition ${renditionKey}`)
      }
      const now = this.now()
      // the first CID recorded for (key, index) wins: segments are deterministic, so a second is the same bytes
      await db.createQueryBuilder().insert().into(Segment).orIgnore()
        .values({ renditionKey, index, cid, bytes, createdAt: now })
        .execute()
      if (rendition.state === 'pending') {
        await db.getRepository(Rendition).update({ key: renditionKey, state: 'pending' }, { state: 'partial', updatedAt: now })
      }
    })
  }

  async getSegment (renditionKey: string, index: number): Promise<{ cid: string, bytes: number } | undefined> {
    const lookup = this.segmentLookup
    if (lookup == null) throw new CatalogNotStartedError('the catalog is not started')
    let row: { cid: string, bytes: number } | undefined
    try {
      // synchronous on SQLite: the hot path takes no turn of the event loop
      row = await lookup(renditionKey, index)
    } catch (err) {
      // only a locked database takes the waiting path
      if (!isBusy(err)) throw this.unreachable(err)
      row = await this.read(async () => await lookup(renditionKey, index))
    }
    return row == null ? undefined : { cid: row.cid, bytes: row.bytes }
  }

  async listSegments (renditionKey: string): Promise<SegmentRecord[]> {
    const rows = await this.read(async db => await db.getRepository(Segment).find({
      select: { index: true, cid: true, bytes: true },
      where: { renditionKey },
      order: { index: 'ASC' }
    }))
    return rows.map(row => ({ index: row.index, cid: row.cid, bytes: row.bytes }))
  }

  async countSegments (renditionKey: string): Promise<number> {
    return await this.read(async db => await db.getRepository(Segment).countBy({ renditionKey }))
  }

  async setInit (renditionKey: string, cid: string): Promise<void> {
    await this.exclusive(async db => {
      const rendition = await this.renditionOrThrow(db, renditionKey)
      if (rendition.initCid != null) {
        if (rendition.initCid !== cid) this.log.warn({ renditionKey, kept: rendition.initCid, offered: cid }, 'init segment differs; keeping the first')
        return
      }
      await db.getRepository(Rendition).update({ key: renditionKey }, { initCid: cid, updatedAt: this.now() })
    })
  }

  async completeRendition (renditionKey: string, root: string): Promise<void> {
    // one transaction (every exclusive call is one): the check and the update see the same rows
    await this.exclusive(async tx => {
      const rendition = await this.renditionOrThrow(tx, renditionKey)
      const missing = await missingSegments(tx, rendition)
      if (rendition.initCid == null || missing.length > 0) {
        const parts = []
        if (rendition.initCid == null) parts.push('the init segment')
        if (missing.length > 0) parts.push(`${missing.length} segment(s), first ${missing[0]}`)
        throw new IncompleteRenditionError(`rendition ${renditionKey} lacks ${parts.join(' and ')}`)
      }
      if (rendition.state === 'complete' && rendition.root === root) return
      if (rendition.root != null && rendition.root !== root) {
        this.log.warn({ renditionKey, previous: rendition.root, root }, 'rendition root changed')
      }
      await tx.getRepository(Rendition).update({ key: renditionKey }, { state: 'complete', root, updatedAt: this.now() })
      this.log.info({ renditionKey, root }, 'rendition complete')
    })
  }

  async setProgress (userId: string, mediaId: string, positionSeconds: number): Promise<void> {
    checkId(userId, 64, 'user id')
    if (!Number.isFinite(positionSeconds) || positionSeconds < 0) {
      throw new InvalidRequestError(`position must be a number of seconds >= 0, got ${positionSeconds}`)
    }
    await this.exclusive(async db => {
      if (!await db.getRepository(Media).existsBy({ id: mediaId })) {
        throw new MediaNotFoundError(`no media ${mediaId}`)
      }
      await db.getRepository(PlaybackProgress).upsert(
        { userId, mediaId, positionSeconds, updatedAt: this.now() },
        { conflictPaths: ['userId', 'mediaId'], skipUpdateIfNoValuesChanged: false }
      )
    })
  }

  async getProgress (userId: string, mediaId: string): Promise<ProgressRecord | undefined> {
    const row = await this.read(async db => await db.getRepository(PlaybackProgress).findOneBy({ userId, mediaId }))
    return row == null ? undefined : toProgressRecord(row)
  }

  async listProgress (userId: string, options: ListOptions & LibraryScope = {}): Promise<ProgressRecord[]> {
    const take = count(options.limit, DEFAULT_LIMIT)
    const skip = count(options.offset, 0)
    const rows = await this.read(async db => await db.getRepository(PlaybackProgress).find({
      where: { userId, ...mediaIdInScope(options) },
      order: { updatedAt: 'DESC', mediaId: 'ASC' },
      take,
      skip
    }))
    return rows.map(toProgressRecord)
  }

  private get db (): DataSource {
    if (this.dataSource == null) throw new CatalogNotStartedError('the catalog is not started')
    return this.dataSource
  }

  /** Runs `fn` in one transaction after every earlier write has settled, waiting out a locked database (busy.ts). */
  private async exclusive<T> (fn: (db: EntityManager) => Promise<T>): Promise<T> {
    return await this.queue.exclusive(this.db, fn).catch((err: unknown) => { throw this.unreachable(err) })
  }

  /** A database out of reach said as such (503, its address without the password), anything else as it came. */
  private unreachable (err: unknown): unknown {
    if (!isUnreachable(err)) return err
    const code = (err as { code?: unknown }).code
    return new CatalogUnavailableError(`the catalog's database ${describeDatabase(this.target)} cannot be reached${typeof code === 'string' ? ` (${code})` : ''}; try again in a few seconds`, { cause: err })
  }

  /** Runs a read outside the write queue, waiting out a database locked by another process as writes do. */
  private async read<T> (fn: (db: DataSource) => Promise<T>): Promise<T> {
    const db = this.db
    return await this.queue.read(async () => await fn(db)).catch((err: unknown) => { throw this.unreachable(err) })
  }

  private async renditionOrThrow (db: EntityManager, key: string): Promise<Rendition> {
    const rendition = await db.getRepository(Rendition).findOneBy({ key })
    if (rendition == null) throw new RenditionNotFoundError(`no rendition ${key}`)
    return rendition
  }

  /** Milliseconds, strictly increasing within the process, so "newest first" follows the order of writes. */
  private now (): Date {
    this.lastMs = Math.max(Date.now(), this.lastMs + 1)
    return new Date(this.lastMs)
  }
}
