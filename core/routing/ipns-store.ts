import { Key } from 'interface-datastore'
import { IpnsNameNotAllowedError, IpnsRecordExpiredError, StaleIpnsRecordError } from '../errors.ts'
import { isBetterIpnsRecord, parseIpnsName, validateIpnsRecord, viewIpnsRecord } from './ipns-records.ts'
import type { IpnsRecordView } from './ipns-records.ts'
import type { Logger } from '../logger.ts'
import type { Datastore } from 'interface-datastore'

/** Where the main server keeps the records it was given: `/cidcast/ipns/<k51 name>` -> marshalled record. */
export const IPNS_STORE_PREFIX = '/cidcast/ipns'

export interface IpnsRecordStoreComponents {
  /** The main server's datastore (`peer.datastore`). */
  datastore: Pick<Datastore, 'get' | 'put' | 'delete' | 'query'>
  logger: Logger
}

export interface IpnsRecordStoreInit {
  /**
   * Which names may be stored (for example: only registered, non-revoked nodes). Refused names throw
   * IpnsNameNotAllowedError. @default every name
   */
  acceptName?: (name: string) => boolean | Promise<boolean>
}

/** What `put` did with a valid record. */
export interface IpnsPutResult {
  record: IpnsRecordView
  /** false when the same bytes were already kept (an idempotent re-put). */
  changed: boolean
}

/** The IPNS records a main server keeps for its nodes, one per name, the better one winning. */
export interface IpnsRecordStore {
  /**
   * The kept record for a name, or undefined when none or it has expired. Throws InvalidIpnsNameError. `local`: this
   * server's own store only (a store that also asks the other main servers, ipns-peers.ts, does not then).
   */
  get (name: string, options?: { local?: boolean }): Promise<IpnsRecordView | undefined>
  /**
   * Validates `bytes` for `name` and keeps it when it is better than the kept one. Throws InvalidIpnsNameError,
   * InvalidIpnsRecordError, IpnsRecordExpiredError, IpnsRecordTooLargeError, IpnsNameNotAllowedError, or
   * StaleIpnsRecordError when a better (or equally good, different) record is already kept.
   */
  put (name: string, bytes: Uint8Array): Promise<IpnsPutResult>
  /** Every unexpired kept record. */
  entries (): AsyncIterable<IpnsRecordView>
  /** Calls `listener` after a record replaces another (or is the first for its name); returns an unsubscribe. */
  onUpdate (listener: (record: IpnsRecordView) => void): () => void
}

/** A record store on a datastore; puts for one name are serialized so "keep the better" holds under races. */
export function createIpnsRecordStore (components: IpnsRecordStoreComponents, init: IpnsRecordStoreInit = {}): IpnsRecordStore {
  return new DatastoreIpnsRecordStore(components, init)
}

class DatastoreIpnsRecordStore implements IpnsRecordStore {
  private readonly datastore: IpnsRecordStoreComponents['datastore']
  private readonly log: Logger
  private readonly acceptName: (name: string) => boolean | Promise<boolean>
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly listeners = new Set<(record: IpnsRecordView) => void>()

  constructor (components: IpnsRecordStoreComponents, init: IpnsRecordStoreInit) {
    this.datastore = components.datastore
    this.log = components.logger.child({ name: 'cidcast:ipns-store' })
    this.acceptName = init.acceptName ?? (() => true)
  }

  async get (text: string): Promise<IpnsRecordView | undefined> {
    const { name } = parseIpnsName(text)
    const record = await this.read(name)
    if (record == null) return undefined
    if (record.expires.getTime() <= Date.now()) return undefined
    return record
  }

  async put (text: string, bytes: Uint8Array): Promise<IpnsPutResult> {
    const parsed = parseIpnsName(text)
    const record = await validateIpnsRecord(parsed, bytes)
    if (!(await this.acceptName(parsed.name))) {
      throw new IpnsNameNotAllowedError(`this server keeps no IPNS records for ${parsed.name}`)
    }
    return await this.serialize(parsed.name, async () => {
      const kept = await this.read(parsed.name)
      if (kept != null && kept.expires.getTime() > Date.now()) {
        if (equalBytes(kept.bytes, bytes)) return { record: kept, changed: false }
        if (!isBetterIpnsRecord(record, kept)) {
          throw new StaleIpnsRecordError(`a better IPNS record for ${parsed.name} is kept (sequence ${kept.sequence}, offered ${record.sequence})`)
        }
      }
      // validity may have run out while waiting in the queue
      if (record.expires.getTime() <= Date.now()) throw new IpnsRecordExpiredError(`the IPNS record for ${parsed.name} has expired`)
      await this.datastore.put(keyOf(parsed.name), bytes)
      this.log.info({ ipns: parsed.name, sequence: record.sequence.toString(), value: record.value }, 'IPNS record kept')
      for (const listener of this.listeners) {
        try { listener(record) } catch (err) { this.log.error({ err }, 'an IPNS update listener failed') }
      }
      return { record, changed: true }
    })
  }

  async * entries (): AsyncIterable<IpnsRecordView> {
    for await (const { key, value } of this.datastore.query({ prefix: IPNS_STORE_PREFIX })) {
      const name = key.baseNamespace()
      try {
        const record = viewIpnsRecord(name, value)
        if (record.expires.getTime() > Date.now()) yield record
      } catch (err) {
        this.log.warn({ err, key: key.toString() }, 'skipping an unreadable IPNS record')
      }
    }
  }

  onUpdate (listener: (record: IpnsRecordView) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private async read (name: string): Promise<IpnsRecordView | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await this.datastore.get(keyOf(name))
    } catch (err: any) {
      if (err?.name === 'NotFoundError') return undefined
      throw err
    }
    // LevelDB hands back Buffers; callers get the plain bytes they put
    return viewIpnsRecord(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }

  private async serialize<T> (name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve()
    const run = previous.then(task, task)
    const tail = run.catch(() => {})
    this.queues.set(name, tail)
    void tail.then(() => { if (this.queues.get(name) === tail) this.queues.delete(name) })
    return await run
  }
}

function keyOf (name: string): Key {
  return new Key(`${IPNS_STORE_PREFIX}/${name}`)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i])
}
