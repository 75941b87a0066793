import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { MAX_PIN_REPORTS } from '../control/index.ts'
import { InvalidPinOrderError, PinCancelledError } from './pin-errors.ts'
import type { PinOrder, PinReport, PinReportState } from '../control/index.ts'
import type { Logger } from '../logger.ts'
import type { Datastore } from 'interface-datastore'

/*
 * The pinner's order book: every order the main server sent, from the moment it arrives until the server has seen
 * its final state. Orders are kept in the node's datastore (so a pin cut by a crash or a restart starts again at
 * `start()`), run one after another per root (an unpin stops a pin of the same root still on its way), and are
 * reported in each heartbeat: a final one (`pinned`, `failed`, `unpinned`) until a heartbeat reply no longer
 * repeats its order, then it is forgotten. An order whose id is already known is the same order: its state is
 * reported again, nothing starts over. Carrying an order out is the execution's part (pin-execution.ts).
 */

export interface OrderProgress {
  blocksDone: number
  bytesDone: number
  blocksTotal?: number
  bytesTotal?: number
}

/** What the datastore keeps per order. */
interface OrderRecord {
  order: PinOrder
  state: PinReportState
  progress: OrderProgress
  error?: { name: string, message: string }
  attempts: number
  updatedAt: string
}

/** An order in the book, as its execution sees and updates it. */
export interface OrderEntry extends OrderRecord {
  root: CID
  /** Aborted by an unpin of the same root, or when the node stops. */
  controller: AbortController
  /** Included in the last reports() while final: a reply that no longer repeats the order acknowledges it. */
  finalSent: boolean
}

export interface OrderBookComponents {
  datastore: Pick<Datastore, 'query' | 'put' | 'delete'>
  logger: Logger
  /** Carries out one order; what it throws fails the order (unless the book is stopping). */
  execute: (entry: OrderEntry) => Promise<void>
  /** An order changed state (started, finished, failed, waits to retry): the node sends a heartbeat. */
  onChange?: (report: PinReport) => void
}

export interface OrderBook {
  /** Loads the orders kept in the datastore and resumes the unfinished ones. */
  start (): Promise<void>
  /** Takes no more orders and aborts the running ones where they are (they resume at the next start). */
  stop (): void
  /** Resolves once every order that was running has stopped. */
  settled (): Promise<void>
  /** Takes the orders of a heartbeat reply (all of them, also when empty: that is how reports are acknowledged). */
  apply (orders: PinOrder[]): void
  /** What the next heartbeat says about orders. */
  reports (): PinReport[]
  /** True while an order is queued or running. */
  busy (): boolean
  /** Moves an order to `state` (with or without an error), saves it and tells the node. */
  set (entry: OrderEntry, state: PinReportState, error?: unknown): Promise<void>
}

const FINAL: ReadonlySet<PinReportState> = new Set(['pinned', 'failed', 'unpinned'])
const RECORD_PREFIX = '/cidcast/pinner/'
const MAX_MESSAGE_CHARS = 1000

/** Creates the order book over the node's datastore. */
export function createOrderBook (components: OrderBookComponents): OrderBook {
  return new DatastoreOrderBook(components)
}

function errorOf (err: unknown): { name: string, message: string } {
  const e = err as { name?: string, message?: string }
  const name = typeof e?.name === 'string' && /^[A-Za-z]{1,64}$/.test(e.name) ? e.name : 'Error'
  return { name, message: String(e?.message ?? err).slice(0, MAX_MESSAGE_CHARS) }
}

class DatastoreOrderBook implements OrderBook {
  private readonly log: Logger
  private readonly entries = new Map<string, OrderEntry>()
  /** Per root: the tail of the orders on it, which run one after another. */
  private readonly chains = new Map<string, Promise<void>>()
  private stopping = false

  constructor (private readonly c: OrderBookComponents) {
    this.log = c.logger.child({ name: 'cidcast:pinner' })
  }

  async start (): Promise<void> {
    this.stopping = false
    for await (const { key, value } of this.c.datastore.query({ prefix: RECORD_PREFIX })) {
      let record: OrderRecord
      let root: CID
      try {
        record = JSON.parse(new TextDecoder().decode(value)) as OrderRecord
        root = CID.parse(record.order.cid)
      } catch (err) {
        this.log.warn({ err, key: key.toString() }, 'dropping an unreadable order record')
        await this.c.datastore.delete(key)
        continue
      }
      const entry: OrderEntry = { ...record, root, controller: new AbortController(), finalSent: false }
      this.entries.set(record.order.orderId, entry)
      if (!FINAL.has(entry.state)) {
        this.log.info({ orderId: record.order.orderId, cid: record.order.cid, action: record.order.action, state: record.state }, 'resuming an order')
        this.schedule(entry)
      }
    }
  }

  stop (): void {
    this.stopping = true
    for (const entry of this.entries.values()) {
      if (!FINAL.has(entry.state)) entry.controller.abort(new PinCancelledError('the node is stopping'))
    }
  }

  async settled (): Promise<void> {
    await Promise.allSettled([...this.chains.values()])
  }

  apply (orders: PinOrder[]): void {
    const repeated = new Set(orders.map(o => o.orderId))
    for (const [id, entry] of this.entries) {
      if (FINAL.has(entry.state) && entry.finalSent && !repeated.has(id)) {
        this.entries.delete(id)
        Promise.resolve(this.c.datastore.delete(this.key(id))).catch((err: unknown) => { this.log.warn({ err }, 'cannot forget an order') })
      }
    }
    if (this.stopping) return
    for (const order of orders) {
      const known = this.entries.get(order.orderId)
      if (known != null) {
        known.finalSent = false
        continue
      }
      let root: CID
      try {
        root = CID.parse(order.cid)
        if (order.action !== 'pin' && order.action !== 'unpin') throw new InvalidPinOrderError(`unknown action ${String(order.action)}`)
      } catch (err) {
        this.log.warn({ err, order }, 'ignoring an order that cannot be carried out')
        continue
      }
      const entry: OrderEntry = {
        order,
        root,
        state: order.action === 'pin' ? 'queued' : 'unpinning',
        progress: { blocksDone: 0, bytesDone: 0, blocksTotal: order.blocksTotal, bytesTotal: order.bytesTotal },
        attempts: 0,
        updatedAt: new Date().toISOString(),
        controller: new AbortController(),
        finalSent: false
      }
      this.entries.set(order.orderId, entry)
      this.log.info({ orderId: order.orderId, cid: order.cid, action: order.action }, 'order received')
      void this.save(entry)
      this.schedule(entry)
    }
  }

  reports (): PinReport[] {
    // running orders first: when there are too many to say, the finished ones wait for the next heartbeat
    const entries = [...this.entries.values()].sort((a, b) => Number(FINAL.has(a.state)) - Number(FINAL.has(b.state)))
    return entries.slice(0, MAX_PIN_REPORTS).map(entry => {
      if (FINAL.has(entry.state)) entry.finalSent = true
      return this.report(entry)
    })
  }

  busy (): boolean {
    for (const entry of this.entries.values()) if (!FINAL.has(entry.state)) return true
    return false
  }

  async set (entry: OrderEntry, state: PinReportState, error?: unknown): Promise<void> {
    entry.state = state
    entry.error = error == null ? undefined : errorOf(error)
    await this.save(entry)
    this.c.onChange?.(this.report(entry))
  }

  private key (orderId: string): Key {
    return new Key(`${RECORD_PREFIX}${orderId}`)
  }

  private report (entry: OrderEntry): PinReport {
    const report: PinReport = { cid: entry.order.cid, orderId: entry.order.orderId, state: entry.state, blocksDone: entry.progress.blocksDone, bytesDone: entry.progress.bytesDone }
    if (entry.progress.blocksTotal != null) report.blocksTotal = entry.progress.blocksTotal
    if (entry.progress.bytesTotal != null) report.bytesTotal = entry.progress.bytesTotal
    if (entry.error != null) report.error = entry.error
    return report
  }

  private async save (entry: OrderEntry): Promise<void> {
    entry.updatedAt = new Date().toISOString()
    const record: OrderRecord = { order: entry.order, state: entry.state, progress: entry.progress, error: entry.error, attempts: entry.attempts, updatedAt: entry.updatedAt }
    try {
      // an order the server has acknowledged meanwhile stays forgotten
      if (this.entries.get(entry.order.orderId) !== entry) return
      await this.c.datastore.put(this.key(entry.order.orderId), new TextEncoder().encode(JSON.stringify(record)))
    } catch (err) {
      this.log.warn({ err, orderId: entry.order.orderId }, 'cannot save an order')
    }
  }

  /** Runs the order after the orders before it on the same root. */
  private schedule (entry: OrderEntry): void {
    const key = entry.root.toString()
    if (entry.order.action === 'unpin') {
      // an unpin stops a pin of the same root that is still on its way
      for (const other of this.entries.values()) {
        if (other !== entry && other.order.action === 'pin' && other.order.cid === entry.order.cid && !FINAL.has(other.state)) {
          other.controller.abort(new PinCancelledError(`cancelled by unpin order ${entry.order.orderId}`))
        }
      }
    }
    const before = this.chains.get(key) ?? Promise.resolve()
    const run = before.then(async () => { await this.execute(entry) })
    this.chains.set(key, run)
    void run.finally(() => { if (this.chains.get(key) === run) this.chains.delete(key) })
  }

  private async execute (entry: OrderEntry): Promise<void> {
    if (this.stopping) return
    try {
      await this.c.execute(entry)
    } catch (err) {
      // stopping leaves the order as it was saved: it resumes at the next start
      if (this.stopping) return
      this.log.warn({ err, orderId: entry.order.orderId, cid: entry.order.cid }, 'order failed')
      await this.set(entry, 'failed', err)
    }
  }
}
