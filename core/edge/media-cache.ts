import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMediaId } from '../hls/index.ts'
import type { Logger } from '../logger.ts'

/**
 * What a CDN node has learned about the main server's media, kept on disk in its data folder: master and media
 * playlists, each rendition's root CID, and the CID of each file (`{profile}/{n}.m4s`, `init.mp4`) learned from
 * the origin's Etags. With it a node maps `/media/{id}/...` to blocks it holds, and keeps serving them while the
 * main server is down, across restarts too. One small JSON file per media.
 */

/** A playlist as the origin last sent it. */
export interface CachedPlaylist {
  text: string
  /** `Date.now()` when it was fetched. */
  fetchedAt: number
}

/** Each rendition's root CID (null while incomplete), as `GET /api/v1/media/{id}` last said. */
export interface CachedRoots {
  roots: Record<string, string | null>
  fetchedAt: number
}

export interface MediaCache {
  roots (id: string): Promise<CachedRoots | undefined>
  setRoots (id: string, roots: Record<string, string | null>): Promise<void>
  /** `name` is `master` for the master playlist, else a profile name for its media playlist. */
  playlist (id: string, name: string): Promise<CachedPlaylist | undefined>
  setPlaylist (id: string, name: string, text: string): Promise<void>
  /** The CID of `{profile}/{file}` of media `id`, if learned. */
  file (id: string, profile: string, file: string): Promise<string | undefined>
  setFile (id: string, profile: string, file: string, cid: string): Promise<void>
  /** Forgets the CID of `{profile}/{file}` of media `id` (its blocks were evicted). */
  forgetFile (id: string, profile: string, file: string): Promise<void>
  /** Waits for pending writes. */
  flush (): Promise<void>
}

export interface MediaCacheInit {
  /** Folder of the JSON files (created on first write). */
  dir: string
}

export interface MediaCacheComponents {
  logger: Logger
}

interface Entry {
  id: string
  info?: CachedRoots
  playlists: Record<string, CachedPlaylist>
  files: Record<string, string>
}

const KEY = /^[A-Za-z0-9_.-]{1,64}$/

/** Creates the cache over `init.dir`. */
export function createMediaCache (components: MediaCacheComponents, init: MediaCacheInit): MediaCache {
  return new FileMediaCache(components, init)
}

class FileMediaCache implements MediaCache {
  private readonly log: Logger
  private readonly dir: string
  private readonly entries = new Map<string, Promise<Entry>>()
  /** The write in flight (or last done) per media; writes of one media are chained so the last state wins. */
  private readonly writes = new Map<string, Promise<void>>()
  private readonly dirty = new Set<string>()

  constructor (components: MediaCacheComponents, init: MediaCacheInit) {
    this.log = components.logger.child({ name: 'cidcast:media-cache' })
    this.dir = init.dir
  }

  async roots (id: string): Promise<CachedRoots | undefined> {
    return (await this.entry(id)).info
  }

  async setRoots (id: string, roots: Record<string, string | null>): Promise<void> {
    const entry = await this.entry(id)
    entry.info = { roots: { ...roots }, fetchedAt: Date.now() }
    this.save(entry)
  }

  async playlist (id: string, name: string): Promise<CachedPlaylist | undefined> {
    return (await this.entry(id)).playlists[checkKey(name)]
  }

  async setPlaylist (id: string, name: string, text: string): Promise<void> {
    const entry = await this.entry(id)
    const previous = entry.playlists[checkKey(name)]
    entry.playlists[name] = { text, fetchedAt: Date.now() }
    // only the time changed: worth remembering in memory, not a disk write per refresh
    if (previous?.text !== text) this.save(entry)
  }

  async file (id: string, profile: string, file: string): Promise<string | undefined> {
    return (await this.entry(id)).files[`${checkKey(profile)}/${checkKey(file)}`]
  }

  async setFile (id: string, profile: string, file: string, cid: string): Promise<void> {
    const entry = await this.entry(id)
    const key = `${checkKey(profile)}/${checkKey(file)}`
    if (entry.files[key] === cid) return
    entry.files[key] = cid
    this.save(entry)
  }

  async forgetFile (id: string, profile: string, file: string): Promise<void> {
    const entry = await this.entry(id)
    const key = `${checkKey(profile)}/${checkKey(file)}`
    if (entry.files[key] == null) return
    const { [key]: _gone, ...rest } = entry.files
    entry.files = rest
    this.save(entry)
  }

  async flush (): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes.values()])
  }

  private async entry (id: string): Promise<Entry> {
    // media ids are 16 hex digits; nothing else ever becomes a file name
    if (!isMediaId(id)) throw new TypeError(`not a media id: ${JSON.stringify(id.slice(0, 64))}`)
    let entry = this.entries.get(id)
    if (entry == null) {
      entry = this.load(id)
      this.entries.set(id, entry)
    }
    return await entry
  }

  private async load (id: string): Promise<Entry> {
    const empty: Entry = { id, playlists: {}, files: {} }
    let text: string
    try {
      text = await readFile(this.path(id), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, id }, 'cannot read a cached media entry')
      return empty
    }
    try {
      const parsed = JSON.parse(text) as Partial<Entry>
      return {
        id,
        info: parsed.info != null && typeof parsed.info === 'object' ? parsed.info : undefined,
        playlists: parsed.playlists != null && typeof parsed.playlists === 'object' ? parsed.playlists : {},
        files: parsed.files != null && typeof parsed.files === 'object' ? parsed.files : {}
      }
    } catch (err) {
      // a damaged file only costs a trip to the origin: start over
      this.log.warn({ err, id }, 'a cached media entry is damaged; ignoring it')
      return empty
    }
  }

  private save (entry: Entry): void {
    this.dirty.add(entry.id)
    if (this.writes.has(entry.id)) return
    const write = (async () => {
      await mkdir(this.dir, { recursive: true })
      while (this.dirty.delete(entry.id)) {
        const path = this.path(entry.id)
        const draft = `${path}.${process.pid}.tmp`
        // written whole, then renamed into place: a crash leaves the old file or the new one, never half of one
        await writeFile(draft, JSON.stringify(entry))
        await rename(draft, path)
      }
    })().catch(err => { this.log.warn({ err, id: entry.id }, 'cannot write a cached media entry') })
      .finally(() => {
        this.writes.delete(entry.id)
        // a change made after the loop's last check and before this point still needs its write
        if (this.dirty.has(entry.id)) this.save(entry)
      })
    this.writes.set(entry.id, write)
  }

  private path (id: string): string {
    return join(this.dir, `${id}.json`)
  }
}

function checkKey (key: string): string {
  if (!KEY.test(key)) throw new TypeError(`not a cache key: ${JSON.stringify(key.slice(0, 64))}`)
  return key
}
