import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../fs-atomic.ts'
import { checkPublicKey, loadKey, lookupKey } from './stream-keys.ts'
import { InvalidStreamKeyError } from './errors.ts'
import type { Logger } from '../logger.ts'
import type { LoadedKey, StreamKeyLookup, StreamPublicKey } from './stream-keys.ts'
import type { KeyObject } from 'node:crypto'

/*
 * A CDN node's copy of the main server's public stream keys. It lives in one file in the node's data folder, so
 * the node verifies stream tokens after a restart while the main server is down. The file is replaced whole (a
 * temporary file renamed into place): a crash leaves the old list or the new one, and a temporary file left
 * behind is never read.
 */

/** The file in a node's data folder that holds the public stream keys. */
export const PUBLIC_KEYS_FILE = 'stream-public-keys.json'
const FILE_VERSION = 1

export interface KeyRingComponents {
  logger: Logger
}

export interface KeyRingInit {
  /** The key file, usually `<data>/stream-public-keys.json`. */
  path: string
}

/** What the main server says about its media besides its keys, kept in the same file. */
export interface KeyRingSettings {
  /** The main server's `publicMedia`: media need no stream token. @default false */
  publicMedia?: boolean
  /** The user id of the node's owner, as the main server resolved it (a local node serves them alone). */
  owner?: string
}

/** The public stream keys a node accepts, kept on disk. */
export interface KeyRing extends StreamKeyLookup {
  /** The keys held now, as the main server sent them. */
  list (): StreamPublicKey[]
  /** Whether the main server marks its media public (as last sent; false until it says otherwise). */
  publicMedia (): boolean
  /** The user id of this node's owner, as last sent (kept across restarts); undefined when it has none. */
  owner (): string | undefined
  /**
   * Checks every key, writes the file, then swaps the list (and settings) in memory; nothing changes when a key is
   * bad, and nothing is written when the file already says the same.
   */
  replace (keys: readonly StreamPublicKey[], settings?: KeyRingSettings): Promise<void>
}

/** Opens the node's key ring: the keys saved in `path`, or none (a missing or damaged file is logged, not fatal). */
export async function openKeyRing (components: KeyRingComponents, init: KeyRingInit): Promise<KeyRing> {
  const log = components.logger.child({ name: 'cidcast:stream-keys' })
  const saved = await readKeys(log, init.path)
  return new FileKeyRing(log, init.path, saved)
}

interface SavedRing {
  keys: Map<string, LoadedKey>
  publicMedia: boolean
  owner?: string
  /** The file's text, to leave it alone when the server sends the same again. */
  text?: string
}

async function readKeys (log: Logger, path: string): Promise<SavedRing> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, path }, 'cannot read the stream key file; no stream token verifies until the main server sends its keys')
    return { keys: new Map(), publicMedia: false }
  }
  try {
    const saved = JSON.parse(text) as { version?: unknown, keys?: unknown, publicMedia?: unknown, owner?: unknown }
    if (saved?.version !== FILE_VERSION || !Array.isArray(saved.keys)) throw new InvalidStreamKeyError(`not a version ${FILE_VERSION} key list`)
    // anything but a plain true keeps media closed; an owner that is not a string is nobody's id
    return { keys: loadAll(saved.keys), publicMedia: saved.publicMedia === true, owner: typeof saved.owner === 'string' ? saved.owner : undefined, text }
  } catch (err) {
    // the main server sends the keys again at registration: refusing tokens until then is safe, refusing to start is not needed
    log.warn({ err, path }, 'the stream key file is damaged; no stream token verifies until the main server sends its keys')
    return { keys: new Map(), publicMedia: false }
  }
}

function loadAll (records: readonly unknown[]): Map<string, LoadedKey> {
  const keys = new Map<string, LoadedKey>()
  for (const value of records) {
    const record = checkPublicKey(value)
    keys.set(record.id, loadKey(record))
  }
  return keys
}

class FileKeyRing implements KeyRing {
  /** Replacements in the order they were asked for, so the file and the memory end with the same last list. */
  private writing: Promise<void> = Promise.resolve()

  private keys: Map<string, LoadedKey>
  private isPublic: boolean
  private ownerId: string | undefined
  private text: string | undefined

  constructor (private readonly log: Logger, private readonly path: string, saved: SavedRing) {
    this.keys = saved.keys
    this.isPublic = saved.publicMedia
    this.ownerId = saved.owner
    this.text = saved.text
  }

  key (id: string, nowMs: number): KeyObject | undefined {
    return lookupKey(this.keys, id, nowMs)
  }

  list (): StreamPublicKey[] {
    return [...this.keys.values()].map(key => ({ ...key.record }))
  }

  publicMedia (): boolean {
    return this.isPublic
  }

  owner (): string | undefined {
    return this.ownerId
  }

  async replace (records: readonly StreamPublicKey[], settings: KeyRingSettings = {}): Promise<void> {
    if (!Array.isArray(records)) throw new InvalidStreamKeyError('the stream keys must be a list')
    const next = loadAll(records)
    const publicMedia = settings.publicMedia === true
    const { owner } = settings
    const text = JSON.stringify({ version: FILE_VERSION, keys: [...next.values()].map(key => key.record), publicMedia, owner }, null, 2) + '\n'
    const write = this.writing.then(async () => {
      // every heartbeat brings the list: the file is rewritten only when it changed
      if (text === this.text) return
      await writeFileAtomic(this.path, text, { mode: 0o600 })
      this.keys = next
      this.isPublic = publicMedia
      this.ownerId = owner
      this.text = text
      this.log.info({ keyIds: [...next.keys()], publicMedia, owner }, 'stream keys replaced')
    })
    // a failed write must not block the next one; its caller gets the error
    this.writing = write.catch(() => {})
    await write
  }
}
