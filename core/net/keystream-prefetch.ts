import { Worker } from 'node:worker_threads'
import { BLOCK_BYTES, DATA_BYTES, DATA_OFFSET, STATE_OFFSET, salsa20Simd, salsa20SimdModule } from './salsa20-simd.ts'

/*
 * Keystream made ahead on another core. XSalsa20's keystream does not depend on the data, so a busy direction of a
 * private-network connection (pnet) asks a worker thread to make the next megabytes of it while the event loop does
 * the rest of the connection's work (noise, yamux, hashing, the disk); XORing bytes with a ready keystream costs the
 * event loop a quarter of making it. The event loop never waits for the worker: a piece of keystream that is not
 * ready is made where it is needed, as without a worker, and the worker moves on past it.
 *
 * One worker per process, started with the first busy direction and ended when no direction has used it for
 * IDLE_RELEASE_MS. Each direction has a ring of SLOTS slots in shared memory; slot j holds the keystream of slot
 * number s (blocks s * SLOT_BLOCKS onwards) with s % SLOTS === j, and its tag reads s + 1 once it is whole. Only the
 * worker writes slots and tags; only the event loop writes `want`, the slot number it is in (it never goes back). The
 * worker fills slot numbers from `want` to `want + SLOTS - 1`, never over a tag as new or newer: so it never writes a
 * slot the event loop may be reading (that slot's number is >= want and < want + SLOTS, the only number with its
 * index in that range, and its tag already says it).
 */

/** Keystream bytes of one slot. */
export const SLOT_BYTES = 256 * 1024
const SLOT_BLOCKS = SLOT_BYTES / BLOCK_BYTES
/** Slots per direction: 2 MiB of keystream ahead. */
export const SLOTS = 8
/** A direction asks for keystream ahead once it has used this much (the rest never start a worker). */
export const PREFETCH_AFTER_BYTES = 4 * 1024 * 1024
/** A ring unused this long is given up, and the worker ends when it has none. */
const IDLE_RELEASE_MS = 10_000

// control words: [want, tag of slot 0, ..., tag of slot SLOTS - 1]
const WANT = 0
const TAGS = 1
const CONTROL_BYTES = 64

/** The worker's program (run from this text, so the single-file executable needs no file of its own for it). */
const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { SLOT_BYTES, SLOT_BLOCKS, SLOTS, WANT, TAGS, CONTROL_BYTES, STATE_OFFSET, DATA_OFFSET } = workerData.layout
const instance = new WebAssembly.Instance(new WebAssembly.Module(workerData.module))
const memory = new Uint8Array(instance.exports.memory.buffer)
const words = new Uint32Array(instance.exports.memory.buffer, STATE_OFFSET, 16)
// [0]: bumped by the event loop to wake the worker; [1]: slots made, for the stats; [2]: 1 while the worker waits
const wake = new Int32Array(workerData.wake)
const rings = new Map()
parentPort.on('message', message => {
  if (message.type === 'add') {
    rings.set(message.id, {
      state: message.state,
      control: new Int32Array(message.memory, 0, TAGS + SLOTS),
      data: new Uint8Array(message.memory, CONTROL_BYTES),
      next: 0
    })
  } else if (message.type === 'remove') {
    rings.delete(message.id)
  }
  // a loop waiting for the event loop's next move looks at the rings again now
  Atomics.add(wake, 0, 1)
  Atomics.notify(wake, 0)
  run()
})
/** Fills the next slot some ring lacks; false when every ring is as far ahead as it may be. */
function fillOne () {
  for (const ring of rings.values()) {
    const want = Atomics.load(ring.control, WANT)
    if (ring.next < want) ring.next = want
    while (ring.next < want + SLOTS) {
      const s = ring.next
      const j = s % SLOTS
      ring.next++
      if (Atomics.load(ring.control, TAGS + j) - 1 >= s) continue
      words.set(ring.state)
      words[8] = (s * SLOT_BLOCKS) >>> 0
      words[9] = 0
      memory.fill(0, DATA_OFFSET, DATA_OFFSET + SLOT_BYTES)
      instance.exports.xor(STATE_OFFSET, DATA_OFFSET, SLOT_BYTES / 256)
      ring.data.set(memory.subarray(DATA_OFFSET, DATA_OFFSET + SLOT_BYTES), j * SLOT_BYTES)
      Atomics.store(ring.control, TAGS + j, s + 1)
      Atomics.add(wake, 1, 1)
      return true
    }
  }
  return false
}
let running = false
async function run () {
  if (running) return
  running = true
  try {
    for (;;) {
      // a few slots, then let messages in
      let filled = 0
      while (filled < 8 && fillOne()) filled++
      if (filled > 0) { await new Promise(resolve => setImmediate(resolve)); continue }
      // said before looking once more: a move made after the look is then sure to notify
      Atomics.store(wake, 2, 1)
      const seen = Atomics.load(wake, 0)
      if (fillOne()) { Atomics.store(wake, 2, 0); continue }
      const waited = Atomics.waitAsync(wake, 0, seen)
      if (waited.async) await waited.value
      Atomics.store(wake, 2, 0)
    }
  } finally {
    running = false
  }
}
`

interface WorkerState {
  worker: Worker
  wake: Int32Array
  rings: Set<KeystreamRing>
  timer: NodeJS.Timeout
}

let shared: WorkerState | undefined
/** The worker failed once: keystream is made where needed from then on, rather than starting worker after worker. */
let broken = false
let nextId = 1
const stats = { rings: 0, fromWorker: 0, madeHere: 0 }

/**
 * Since the process started: rings asked for, bytes XORed with keystream the worker made and made where needed (its
 * slot not ready); now: rings held, and slots the current worker has made.
 */
export function prefetchStats (): { rings: number, fromWorker: number, madeHere: number, active: number, slotsMade: number } {
  return { ...stats, active: shared?.rings.size ?? 0, slotsMade: shared == null ? 0 : Atomics.load(shared.wake, 1) }
}

function ensureWorker (): WorkerState {
  if (shared != null) return shared
  const wake = new Int32Array(new SharedArrayBuffer(12))
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      module: salsa20SimdModule(),
      wake: wake.buffer,
      layout: { SLOT_BYTES, SLOT_BLOCKS, SLOTS, WANT, TAGS, CONTROL_BYTES, STATE_OFFSET, DATA_OFFSET }
    }
  })
  worker.unref()
  // a worker that fails leaves every direction making its own keystream, as without it
  const fail = (): void => {
    broken = true
    if (shared?.worker === worker) endWorker()
  }
  worker.on('error', fail)
  worker.on('exit', () => { if (shared?.worker === worker) fail() })
  const timer = setInterval(() => {
    const now = Date.now()
    for (const ring of [...state.rings]) if (now - ring.lastUse > IDLE_RELEASE_MS) ring.release()
  }, IDLE_RELEASE_MS / 2)
  timer.unref()
  const state: WorkerState = { worker, wake, rings: new Set(), timer }
  shared = state
  return state
}

function endWorker (): void {
  const state = shared
  if (state == null) return
  shared = undefined
  clearInterval(state.timer)
  for (const ring of state.rings) ring.detach()
  state.rings.clear()
  void state.worker.terminate()
}

/** One direction's keystream made ahead by the worker. */
export class KeystreamRing {
  private readonly id = nextId++
  private readonly control: Int32Array
  private readonly data: Uint8Array
  private want = -1
  private attached = true
  lastUse = Date.now()

  /** `state`: the direction's 16 Salsa20 input words (words 8 and 9, the block counter, are the worker's). */
  constructor (state: Uint32Array, private readonly worker: WorkerState) {
    const memory = new SharedArrayBuffer(CONTROL_BYTES + SLOTS * SLOT_BYTES)
    this.control = new Int32Array(memory, 0, TAGS + SLOTS)
    this.data = new Uint8Array(memory, CONTROL_BYTES)
    worker.rings.add(this)
    stats.rings++
    worker.worker.postMessage({ type: 'add', id: this.id, memory, state })
  }

  /**
   * XORs `src` (whole blocks from block `counter`) into `dst` with the keystream the worker made, for as long as it
   * has it; returns how many bytes it did (the caller makes the rest itself).
   */
  xor (src: Uint8Array, dst: Uint8Array, counter: number): number {
    if (!this.attached) return 0
    this.lastUse = Date.now()
    let done = 0
    let block = counter
    while (done < src.length) {
      const s = Math.floor(block / SLOT_BLOCKS)
      this.advance(s)
      const j = s % SLOTS
      if (Atomics.load(this.control, TAGS + j) !== s + 1) break
      const from = (block - s * SLOT_BLOCKS) * BLOCK_BYTES
      const n = Math.min(src.length - done, SLOT_BYTES - from)
      xorWith(src.subarray(done, done + n), dst.subarray(done, done + n), this.data.subarray(j * SLOT_BYTES + from, j * SLOT_BYTES + from + n))
      done += n
      block += n / BLOCK_BYTES
    }
    stats.fromWorker += done
    stats.madeHere += src.length - done
    // past what was ready: tell the worker where the caller goes on from
    this.advance(Math.floor((counter + src.length / BLOCK_BYTES) / SLOT_BLOCKS))
    return done
  }

  private advance (s: number): void {
    if (s <= this.want) return
    this.want = s
    Atomics.store(this.control, WANT, s)
    Atomics.add(this.worker.wake, 0, 1)
    // a notify costs ~50 us; a worker still filling sees the move without it
    if (Atomics.load(this.worker.wake, 2) === 1) Atomics.notify(this.worker.wake, 0)
  }

  /** Gives the ring up (the connection closed, or it sat unused); the worker ends with its last ring. */
  release (): void {
    if (!this.attached) return
    this.detach()
    this.worker.rings.delete(this)
    this.worker.worker.postMessage({ type: 'remove', id: this.id })
    if (this.worker.rings.size === 0 && shared === this.worker) endWorker()
  }

  /** @internal */
  detach (): void {
    this.attached = false
  }

  get active (): boolean {
    return this.attached
  }
}

/** A ring for a direction with Salsa20 input words `state`, or undefined where threads or SharedArrayBuffer are missing. */
export function keystreamRing (state: Uint32Array): KeystreamRing | undefined {
  if (broken || typeof SharedArrayBuffer === 'undefined' || typeof Atomics.waitAsync !== 'function') return undefined
  try {
    return new KeystreamRing(state, ensureWorker())
  } catch {
    return undefined
  }
}

/** Bytes XORed per call into the WebAssembly module: its data area holds this much keystream and as much data. */
const PIECE_BYTES = 128 * 1024
if (2 * PIECE_BYTES > DATA_BYTES) throw new Error('the WebAssembly data area is too small for two pieces')

/**
 * dst = src ^ keystream (lengths equal, a multiple of 64). In the WebAssembly module's memory, 16 bytes at a time:
 * copies in and out cost little, and JavaScript XORed 32-bit words at ~2.9 GB/s (BigInt64Array words at ~0.45).
 */
function xorWith (src: Uint8Array, dst: Uint8Array, keystream: Uint8Array): void {
  const wasm = salsa20Simd()
  if (wasm == null) {
    for (let i = 0; i < src.length; i++) dst[i] = src[i] ^ keystream[i]
    return
  }
  const bytes = new Uint8Array(wasm.memory.buffer)
  const data = DATA_OFFSET + PIECE_BYTES
  for (let p = 0; p < src.length; p += PIECE_BYTES) {
    const n = Math.min(PIECE_BYTES, src.length - p)
    bytes.set(keystream.subarray(p, p + n), DATA_OFFSET)
    bytes.set(src.subarray(p, p + n), data)
    wasm.xorBytes(data, DATA_OFFSET, n / 16)
    dst.set(bytes.subarray(data, data + n), p)
  }
}
