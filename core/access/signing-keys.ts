import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { chmod, readFile, stat } from 'node:fs/promises'
import { systemClock } from '../clock.ts'
import { InvalidConfigError } from '../errors.ts'
import { writeFileAtomic } from '../fs-atomic.ts'
import { checkPublicKey, keyIdOf, loadKey, lookupKey } from './stream-keys.ts'
import { MAX_TOKEN_TTL_SECONDS } from './token-codec.ts'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { LoadedKey, StreamKeyLookup, StreamPublicKey } from './stream-keys.ts'
import type { KeyObject } from 'node:crypto'

/*
 * The main server's stream-token signing keys: Ed25519 key pairs in one JSON file in the data folder (mode 0600,
 * replaced whole through a temporary file). One key is current and signs; `rotate()` makes a new current key and
 * marks the old one retired. A retired key still verifies the tokens it signed until `retireAfterSeconds` (the
 * longest TTL a token may have) has passed since its retirement, and is then dropped. Nothing here logs a private key.
 */

/** The file in the main server's data folder that holds the signing keys. */
export const SIGNING_KEYS_FILE = 'stream-keys.json'
/** Default for the longest token TTL, and so for how long a rotated-out key keeps verifying: one day. */
export const DEFAULT_RETIRE_AFTER_SECONDS = 24 * 60 * 60
const MIN_RETIRE_AFTER_SECONDS = 60
const FILE_VERSION = 1

export interface SigningKeyRingComponents {
  logger: Logger
  /** Retirement times come from it. @default systemClock */
  clock?: Clock
}

export interface SigningKeyRingInit {
  /** The key file, usually `<data>/stream-keys.json`; created with a first key when missing. Ignored when `store` is given. */
  path: string
  /**
   * Where the keys live instead of the file: several main servers on one database share one ring there (issue 15), so
   * a token one signs verifies on the others. The file's keys, when it exists, seed an empty store.
   */
  store?: SigningKeyStore
  /** The longest TTL a token may have; a rotated-out key verifies this long after its retirement. @default 86400 */
  retireAfterSeconds?: number
}

/** The key that signs new tokens. */
export interface SigningKey {
  id: string
  privateKey: KeyObject
}

/** The main server's signing keys; also a verifier's key lookup, so the main server checks its own tokens. */
export interface SigningKeyRing extends StreamKeyLookup {
  /** The longest TTL a token may have, in seconds. */
  readonly retireAfterSeconds: number
  /** The key that signs now. */
  current (): SigningKey
  /** Makes a new current key (saved before it is used), retires the old one and drops keys retired long enough; returns the new key's public record. */
  rotate (): Promise<StreamPublicKey>
  /** Every key still accepted, current first: what nodes need to verify tokens. */
  publicKeys (): StreamPublicKey[]
  /** Reads the keys again from their store (another main server may have rotated them); true when they changed. */
  refresh (): Promise<boolean>
}

/** One signing key as a store keeps it (the private half included: stores must be as private as the data folder). */
export interface StoredSigningKey {
  id: string
  /** Raw 32-byte public key, base64url. */
  publicKey: string
  /** The 32-byte private seed, base64url. */
  privateKey: string
  createdAt: string
  retiredAt?: string
}

/** Where a ring's keys are kept; `update` reads and writes them with no other update between (across processes too). */
export interface SigningKeyStore {
  read (): Promise<StoredSigningKey[] | undefined>
  update (change: (stored: StoredSigningKey[] | undefined) => StoredSigningKey[]): Promise<StoredSigningKey[]>
}

type StoredKey = StoredSigningKey

interface HeldKey {
  stored: StoredKey
  loaded: LoadedKey
  privateKey: KeyObject
}

/** Opens the signing key ring at `init.path` (or in `init.store`), creating it with a first key when missing; InvalidConfigError when it is damaged. */
export async function openSigningKeyRing (components: SigningKeyRingComponents, init: SigningKeyRingInit): Promise<SigningKeyRing> {
  const log = components.logger.child({ name: 'cidcast:signing-keys' })
  const retireAfterSeconds = init.retireAfterSeconds ?? DEFAULT_RETIRE_AFTER_SECONDS
  if (!Number.isInteger(retireAfterSeconds) || retireAfterSeconds < MIN_RETIRE_AFTER_SECONDS || retireAfterSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new InvalidConfigError(`retireAfterSeconds must be a whole number of seconds from ${MIN_RETIRE_AFTER_SECONDS} to ${MAX_TOKEN_TTL_SECONDS}`)
  }
  const clock = components.clock ?? systemClock
  const now = (): number => clock.now()
  const fileStore = createFileKeyStore(log, init.path)
  const store = init.store ?? fileStore
  // the file's keys seed an empty shared store: tokens signed before the servers shared a database keep verifying
  const seed = init.store == null ? undefined : await fileStore.read()
  let created = false
  const stored = checkStoredKeys(await store.update(current => {
    if (current != null && current.length > 0) return current
    if (seed != null) return seed
    created = true
    return [newKey(now())]
  }), 'the stream signing keys')
  const ring = new StoreSigningKeyRing(log, store, retireAfterSeconds, now, stored)
  if (created) log.info({ keyId: ring.current().id }, 'created a stream signing key')
  await ring.prune()
  return ring
}

/** The keys in one JSON file (mode 0600, replaced whole); one process owns a data folder, so update needs no lock. */
function createFileKeyStore (log: Logger, path: string): SigningKeyStore {
  let updating: Promise<unknown> = Promise.resolve()
  const write = async (stored: StoredKey[]): Promise<void> => {
    await writeFileAtomic(path, JSON.stringify({ version: FILE_VERSION, keys: stored }, null, 2) + '\n', { mode: 0o600 })
  }
  return {
    read: async () => await readStoredKeys(log, path),
    async update (change) {
      const next = updating.then(async () => {
        const current = await readStoredKeys(log, path)
        const changed = change(current)
        if (changed !== current) await write(changed)
        return changed
      })
      updating = next.catch(() => {})
      return await next
    }
  }
}

/** Checks keys read from a store: each whole, its private half its public half's partner, exactly one current. */
function checkStoredKeys (keys: StoredKey[], where: string): StoredKey[] {
  try {
    if (keys.length === 0) throw new Error('no key')
    const checked = keys.map(checkStoredKey)
    if (checked.filter(key => key.retiredAt === undefined).length !== 1) throw new Error('not exactly one current key')
    return checked
  } catch (err) {
    throw new InvalidConfigError(`${where} are damaged (${(err as Error).message})`)
  }
}

async function readStoredKeys (log: Logger, path: string): Promise<StoredKey[] | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new InvalidConfigError(`cannot read the stream signing keys in ${path} (${code ?? String(err)})`)
  }
  // private keys that others could read: close the file before anything signs with them
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    await chmod(path, 0o600)
    log.warn({ path, mode: mode.toString(8) }, 'the stream signing key file was readable by others; its mode is now 600')
  }
  try {
    const saved = JSON.parse(text) as { version?: unknown, keys?: unknown }
    if (saved?.version !== FILE_VERSION || !Array.isArray(saved.keys) || saved.keys.length === 0) throw new Error('not a key list')
    const keys = saved.keys.map(checkStoredKey)
    if (keys.filter(key => key.retiredAt === undefined).length !== 1) throw new Error('not exactly one current key')
    return keys
  } catch (err) {
    // never replaced silently: a new key would make every token issued so far fail on every node
    throw new InvalidConfigError(`the stream signing keys in ${path} are damaged (${(err as Error).message}); restore the file, or remove it to start with a new key`)
  }
}

function checkStoredKey (value: unknown): StoredKey {
  const record = value as Partial<Record<keyof StoredKey, unknown>>
  const { id, publicKey } = checkPublicKey({ id: record?.id, publicKey: record?.publicKey })
  const { privateKey, createdAt, retiredAt } = record
  if (typeof privateKey !== 'string' || typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new Error(`key ${id} is incomplete`)
  if (retiredAt !== undefined && (typeof retiredAt !== 'string' || Number.isNaN(Date.parse(retiredAt)))) throw new Error(`key ${id} has a bad retirement date`)
  // the private half must be the public half's partner, or tokens would be signed that nobody can verify
  privateKeyObject(privateKey, publicKey)
  return retiredAt === undefined ? { id, publicKey, privateKey, createdAt } : { id, publicKey, privateKey, createdAt, retiredAt }
}

/** The node:crypto private key of a stored seed; throws when the seed does not belong to `publicKey`. */
function privateKeyObject (privateKey: string, publicKey: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: privateKey, x: publicKey }, format: 'jwk' })
  } catch {
    throw new Error('a private key does not parse')
  }
  // derived again from the seed, so a mismatched x in the file cannot slip through
  if (key.export({ format: 'jwk' }).x !== publicKey) throw new Error('a private key does not match its public key')
  return key
}

function newKey (nowMs: number): StoredKey {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  if (jwk.x == null || jwk.d == null) throw new Error('node:crypto exported an Ed25519 key without its parts')
  return { id: keyIdOf(Buffer.from(jwk.x, 'base64url')), publicKey: jwk.x, privateKey: jwk.d, createdAt: new Date(nowMs).toISOString() }
}

class StoreSigningKeyRing implements SigningKeyRing {
  private held: HeldKey[]
  private byId: Map<string, LoadedKey>
  private rotating: Promise<unknown> = Promise.resolve()

  constructor (
    private readonly log: Logger,
    private readonly store: SigningKeyStore,
    readonly retireAfterSeconds: number,
    private readonly now: () => number,
    stored: StoredKey[]
  ) {
    this.held = []
    this.byId = new Map()
    this.hold(stored)
  }

  key (id: string, nowMs: number): KeyObject | undefined {
    return lookupKey(this.byId, id, nowMs)
  }

  current (): SigningKey {
    const current = this.held[0]
    return { id: current.stored.id, privateKey: current.privateKey }
  }

  publicKeys (): StreamPublicKey[] {
    const nowMs = this.now()
    return this.held.filter(key => key.loaded.expiresAtMs > nowMs).map(key => ({ ...key.loaded.record }))
  }

  async rotate (): Promise<StreamPublicKey> {
    // one rotation at a time here, and the store's update keeps another server's between out
    const next = this.rotating.then(async () => {
      const nowMs = this.now()
      const retiredAt = new Date(nowMs).toISOString()
      const fresh = newKey(nowMs)
      let previous: StoredKey[] = []
      // saved before it signs anything: a token must never carry a key id that a restart would forget
      const stored = await this.store.update(current => {
        previous = current ?? this.held.map(key => key.stored)
        return [fresh, ...previous.map(key => key.retiredAt === undefined ? { ...key, retiredAt } : key)].filter(key => this.acceptedAt(key, nowMs))
      })
      this.hold(stored)
      this.log.info({ keyId: fresh.id, retired: previous.find(key => key.retiredAt === undefined)?.id }, 'rotated the stream signing key')
      return this.held[0].loaded.record
    })
    this.rotating = next.catch(() => {})
    return { ...await next }
  }

  async refresh (): Promise<boolean> {
    const stored = await this.store.read()
    if (stored == null) return false
    const before = this.held.map(key => `${key.stored.id}:${key.stored.retiredAt ?? ''}`).join()
    const after = stored.map(key => `${key.id}:${key.retiredAt ?? ''}`).join()
    if (before === after) return false
    this.hold(checkStoredKeys(stored, 'the stream signing keys'))
    return true
  }

  /** Drops keys retired long enough from the store. */
  async prune (): Promise<void> {
    const nowMs = this.now()
    if (this.held.every(key => this.acceptedAt(key.stored, nowMs))) return
    this.hold(await this.store.update(current => (current ?? []).filter(key => this.acceptedAt(key, nowMs))))
  }

  private acceptedAt (key: StoredKey, nowMs: number): boolean {
    return this.expiryMs(key) > nowMs
  }

  /** When a key stops verifying: never while it is current, `retireAfterSeconds` after its retirement otherwise. */
  private expiryMs (key: StoredKey): number {
    return key.retiredAt === undefined ? Infinity : Date.parse(key.retiredAt) + this.retireAfterSeconds * 1000
  }

  private hold (stored: StoredKey[]): void {
    // the current key first, then the retired ones, newest first
    const ordered = [...stored].sort((a, b) => this.expiryMs(b) - this.expiryMs(a))
    this.held = ordered.map(key => {
      const expiresMs = this.expiryMs(key)
      const record = expiresMs === Infinity ? { id: key.id, publicKey: key.publicKey } : { id: key.id, publicKey: key.publicKey, expiresAt: new Date(expiresMs).toISOString() }
      return { stored: key, loaded: loadKey(record), privateKey: privateKeyObject(key.privateKey, key.publicKey) }
    })
    this.byId = new Map(this.held.map(key => [key.stored.id, key.loaded]))
  }
}
