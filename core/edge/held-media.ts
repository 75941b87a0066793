import { readFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { writeFileAtomic } from '../fs-atomic.ts'
import { isMediaId, isProfileName, MASTER_NAME, masterProfiles, masterWithOnly } from '../hls/index.ts'
import { InvalidPinOrderError, PinStalledError } from './pin-errors.ts'
import type { PinOrderMedia } from '../control/index.ts'
import type { ContentReader } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'

/*
 * The media a CDN node holds, by id: what playback needs when the main server is gone (issue 12, item 2). A pin
 * order for a media's rendition names the media, the profile and the media's own directory (PinOrder.media); the
 * pinner, once the rendition is pinned, reads that directory's `master.m3u8` (every block checked against its CID
 * on arrival) and records here id -> media directory, its master playlist and profile -> rendition root. An unpin
 * forgets the rendition, and the media with its last one. The record is one small JSON file in the data folder,
 * written whole and renamed into place (core/fs-atomic.ts), so it survives restarts and crashes.
 *
 * The node's `/media` routes read it (core/edge/miss-resolver.ts): a held rendition's playlist, init and segments are
 * found in its root without asking anyone, and with the main server unreachable the master playlist is this one,
 * listing only the renditions held here.
 */

/** What the node holds of one media. */
export interface HeldMediaEntry {
  /** CID of the media directory whose master playlist is kept. */
  root: string
  /** That directory's `master.m3u8`. */
  master: string
  /** Held renditions: profile -> rendition root CID. */
  renditions: Record<string, string>
}

export interface HeldMediaComponents {
  logger: Logger
  /** Reads the media directory; one that asks connected peers for blocks that are not here (bitswap). */
  reader: Pick<ContentReader, 'child' | 'stat' | 'content'>
  /** Whether a root is still pinned: at start, renditions unpinned by a run that stopped before forgetting them are dropped. */
  isPinned?: (cid: CID) => Promise<boolean>
}

export interface HeldMediaInit {
  /** The JSON file (`<data>/held-media.json`). */
  path: string
  /** Deadline to read a media directory's master playlist. @default 30000 */
  timeoutMs?: number
}

export interface HeldMedia {
  /** Loads the file (a missing one is an empty record). */
  start (): Promise<void>
  /** Records that `rendition` is pinned as `media.profile` of `media.id`, reading the master playlist of `media.root` when new. */
  hold (media: PinOrderMedia, rendition: CID, options?: { signal?: AbortSignal }): Promise<void>
  /** Forgets a rendition root that is no longer pinned (and a media left with none). */
  release (rendition: CID): Promise<void>
  /** What is held of media `id`. */
  get (id: string): HeldMediaEntry | undefined
  /** The root of rendition `profile` of media `id`, when held. */
  rendition (id: string, profile: string): CID | undefined
  /** The kept master playlist of media `id` listing only the renditions held here; undefined when none is. */
  master (id: string): string | undefined
}

/** Largest master playlist read: a few hundred bytes per rendition. */
const MAX_MASTER_BYTES = 65_536
const FILE_VERSION = 1

/** Creates the record over `init.path`. */
export function createHeldMedia (components: HeldMediaComponents, init: HeldMediaInit): HeldMedia {
  return new FileHeldMedia(components, init)
}

class FileHeldMedia implements HeldMedia {
  private readonly log: Logger
  private readonly timeoutMs: number
  private entries = new Map<string, HeldMediaEntry>()
  /** Changes run one after another: each reads the record as the last one left it. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (private readonly c: HeldMediaComponents, private readonly init: HeldMediaInit) {
    this.log = c.logger.child({ name: 'cidcast:held-media' })
    this.timeoutMs = init.timeoutMs ?? 30_000
  }

  async start (): Promise<void> {
    this.entries = await this.load()
    if (this.c.isPinned == null) return
    let dropped = 0
    for (const [id, entry] of this.entries) {
      for (const [profile, root] of Object.entries(entry.renditions)) {
        if (await this.c.isPinned(CID.parse(root))) continue
        Reflect.deleteProperty(entry.renditions, profile)
        dropped++
      }
      if (Object.keys(entry.renditions).length === 0) this.entries.delete(id)
    }
    if (dropped > 0) {
      this.log.info({ renditions: dropped }, 'forgot renditions that are no longer pinned')
      await this.save()
    }
  }

  async hold (media: PinOrderMedia, rendition: CID, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!isMediaId(media.id) || !isProfileName(media.profile)) throw new InvalidPinOrderError(`not a media and profile: ${JSON.stringify([media.id, media.profile]).slice(0, 100)}`)
    await this.change(async () => {
      const known = this.entries.get(media.id)
      const root = CID.parse(media.root).toString()
      const held = rendition.toString()
      if (known?.root === root && known.renditions[media.profile] === held) return false
      const renditions = { ...known?.renditions, [media.profile]: held }
      let kept = known != null && known.root === root ? { root, master: known.master } : { root, master: await this.readMaster(media, options.signal) }
      // two orders of one media may bring two generations of its directory, in either order: keep the master that
      // lists more of what is held (a newer directory lists every rendition an older one did)
      if (known != null && known.root !== root && listed(known.master, renditions) > listed(kept.master, renditions)) kept = { root: known.root, master: known.master }
      this.entries.set(media.id, { ...kept, renditions })
      return true
    })
  }

  async release (rendition: CID): Promise<void> {
    const held = rendition.toString()
    await this.change(async () => {
      let changed = false
      for (const [id, entry] of this.entries) {
        for (const [profile, root] of Object.entries(entry.renditions)) {
          if (root !== held) continue
          Reflect.deleteProperty(entry.renditions, profile)
          changed = true
        }
        if (Object.keys(entry.renditions).length === 0) this.entries.delete(id)
      }
      return changed
    })
  }

  get (id: string): HeldMediaEntry | undefined {
    return this.entries.get(id)
  }

  rendition (id: string, profile: string): CID | undefined {
    const root = this.entries.get(id)?.renditions[profile]
    return root == null ? undefined : CID.parse(root)
  }

  master (id: string): string | undefined {
    const entry = this.entries.get(id)
    if (entry == null) return undefined
    const text = masterWithOnly(entry.master, profile => entry.renditions[profile] != null)
    return masterProfiles(text).length === 0 ? undefined : text
  }

  /** Runs `apply` after the changes before it; saves when it says it changed something. */
  private async change (apply: () => Promise<boolean>): Promise<void> {
    const run = this.queue.then(async () => {
      if (await apply()) await this.save()
    })
    this.queue = run.catch(() => {})
    await run
  }

  /** The `master.m3u8` of `media.root`, read through its blocks (each checked against its CID). */
  private async readMaster (media: PinOrderMedia, signal?: AbortSignal): Promise<string> {
    const deadline = AbortSignal.timeout(this.timeoutMs)
    const options = { signal: signal == null ? deadline : AbortSignal.any([signal, deadline]) }
    const { reader } = this.c
    try {
      const cid = await reader.child(CID.parse(media.root), MASTER_NAME, options)
      if (cid == null) throw new InvalidPinOrderError(`the media directory ${media.root} of media ${media.id} has no ${MASTER_NAME}`)
      const file = await reader.stat(cid, options)
      if (file.kind !== 'file' || file.size > MAX_MASTER_BYTES) throw new InvalidPinOrderError(`${MASTER_NAME} of the media directory ${media.root} is not a master playlist`)
      const parts: Buffer[] = []
      for await (const part of reader.content(file, 0, file.size, options)) parts.push(part)
      return Buffer.concat(parts).toString('utf8')
    } catch (err) {
      if (!deadline.aborted || signal?.aborted === true) throw err
      throw new PinStalledError(`the master playlist of media ${media.id} (media directory ${media.root}) did not arrive within ${Math.round(this.timeoutMs / 1000)} s`, { cause: err })
    }
  }

  private async load (): Promise<Map<string, HeldMediaEntry>> {
    let text: string
    try {
      text = await readFile(this.init.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err }, 'cannot read the record of held media')
      return new Map()
    }
    const entries = new Map<string, HeldMediaEntry>()
    try {
      const parsed = JSON.parse(text) as { media?: Record<string, unknown> }
      for (const [id, value] of Object.entries(parsed.media ?? {})) {
        const entry = entryOf(value)
        if (isMediaId(id) && entry != null) entries.set(id, entry)
        else this.log.warn({ id: id.slice(0, 64) }, 'a held media record is damaged; ignoring it')
      }
    } catch (err) {
      // the pins themselves are intact: only the offline master playlists are lost, until the next orders
      this.log.warn({ err }, 'the record of held media is damaged; starting over')
    }
    return entries
  }

  private async save (): Promise<void> {
    const media = Object.fromEntries(this.entries)
    await writeFileAtomic(this.init.path, JSON.stringify({ version: FILE_VERSION, media }))
  }
}

/** How many of the held profiles a master playlist lists. */
function listed (master: string, renditions: Record<string, string>): number {
  return masterProfiles(master).filter(profile => renditions[profile] != null).length
}

/** A held media entry read from the file, checked field by field; undefined when any is wrong. */
function entryOf (value: unknown): HeldMediaEntry | undefined {
  const e = value as Partial<HeldMediaEntry> | null
  if (e == null || typeof e !== 'object' || typeof e.root !== 'string' || typeof e.master !== 'string') return undefined
  if (e.renditions == null || typeof e.renditions !== 'object') return undefined
  try {
    CID.parse(e.root)
    for (const [profile, root] of Object.entries(e.renditions)) {
      if (!isProfileName(profile) || typeof root !== 'string') return undefined
      CID.parse(root)
    }
  } catch {
    return undefined
  }
  return { root: e.root, master: e.master, renditions: { ...e.renditions } }
}
