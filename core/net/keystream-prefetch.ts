import { Worker } from 'node:worker_threads'
import { BLOCK_BYTES, DATA_BYTES, DATA_OFFSET, PAGE_BYTES, salsa20Simd, salsa20SimdExports, salsa20SimdSharedModule } from './salsa20-simd.ts'
import type { Salsa20Simd } from './salsa20-simd.ts'

/*
 * Keystream made ahead on another core. XSalsa20's keystream does not depend on the data, so a busy direction of a
 * private-network connection (pnet) asks a worker thread to make the next megabytes of it while the event loop does
 * the rest of the connection's work (noise, yamux, hashing, the disk); XORing bytes with a ready keystream costs the
 * event loop a quarter of making it. The event loop never waits for the worker: a piece of keystream that is not
 * ready is made where it is needed, as without a worker, and the worker moves on past it.
 *
 * One worker per process, started with the first busy direction and ended once no direction has used it for
 * IDLE_RELEASE_MS. The worker and the event loop share one WebAssembly memory: the worker's Salsa20 core writes
 * keystream straight into a ring there, and the event loop's XOR reads it there (each piece of keystream is written
 * once and read once; no copy, no zeroing). Each direction has a ring of SLOTS slots; slot j holds the keystream of
 * slot number s (blocks s * SLOT_BLOCKS onwards) with s % SLOTS === j, and its tag reads s + 1 once it is whole. Only
 * the worker writes slots and tags; only the event loop writes `want`, the slot number it is in (it never goes back).
 * The worker fills slot numbers from `want` to `want + SLOTS - 1`, never over a tag as new or newer: so it never
 * writes a slot the event loop may be reading (that slot's number is >= want and < want + SLOTS, the only number with
 * its index in that range, and its tag already says it). A ring's place in the memory is given to another direction
 * only once the worker said it let the ring go.
 */

/** Keystream bytes of one slot. */
export const SLOT_BYTES = 256 * 1024
const SLOT_BLOCKS = SLOT_BYTES / BLOCK_BYTES
/** Slots per direction: 2 MiB of keystream ahead. */
export const SLOTS = 8
/** A direction asks for keystream ahead once it has used this much (the rest never start a worker). */
export const PREFETCH_AFTER_BYTES = 4 * 1024 * 1024
/** Directions with keystream made ahead at once; the others make their own until a ring is free. */
export const MAX_RINGS = 16
/**
 * A ring unused this long is given up, and a worker without rings for this long ends: kept that long, it serves the
 * next busy connection at once, where a new worker takes 50-100 ms to make its first slot.
 */
const IDLE_RELEASE_MS = 10_000

// the shared memory: the worker's Salsa20 input words, the wake words, each ring's control words, the event loop's
// XOR area, then the rings
const WORKER_STATE_OFFSET = 0
const WAKE_OFFSET = 256
const CONTROL_OFFSET = 1024
const CONTROL_BYTES = 64
/** Bytes XORed per call into the WebAssembly module: the event loop's area in the shared memory (and 8 bytes more). */
const PIECE_BYTES = 128 * 1024
const PIECE_OFFSET = PAGE_BYTES
const RINGS_OFFSET = 4 * PAGE_BYTES
const RING_BYTES = SLOTS * SLOT_BYTES
const PAGES = (RINGS_OFFSET + MAX_RINGS * RING_BYTES) / PAGE_BYTES
// control words of a ring: [want, tag of slot 0, ..., tag of slot SLOTS - 1]
const WANT = 0
const TAGS = 1
if (CONTROL_OFFSET + MAX_RINGS * CONTROL_BYTES > PIECE_OFFSET || PIECE_OFFSET + PIECE_BYTES + 8 > RINGS_OFFSET || (TAGS + SLOTS) * 4 > CONTROL_BYTES) {
  throw new Error('the shared memory layout overlaps')
}

/** The worker's program (run from this text, so the single-file executable needs no file of its own for it). */
const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { memory, layout } = workerData
const { SLOT_BYTES, SLOT_BLOCKS, SLOTS, WANT, TAGS, WORKER_STATE_OFFSET, WAKE_OFFSET, CONTROL_OFFSET, CONTROL_BYTES, RINGS_OFFSET, RING_BYTES } = layout
const core = new WebAssembly.Instance(workerData.module, { env: { memory } }).exports
const words = new Uint32Array(memory.buffer, WORKER_STATE_OFFSET, 16)
// [0]: bumped by the event loop to wake the worker; [1]: slots made, for the stats; [2]: 1 while the worker waits
const wake = new Int32Array(memory.buffer, WAKE_OFFSET, 3)
const rings = new Map()
parentPort.on('message', message => {
  if (message.type === 'add') {
    rings.set(message.index, {
      state: message.state,
      control: new Int32Array(memory.buffer, CONTROL_OFFSET + message.index * CONTROL_BYTES, TAGS + SLOTS),
      data: RINGS_OFFSET + message.index * RING_BYTES,
      next: 0
    })
  } else if (message.type === 'remove') {
    rings.delete(message.index)
    // no slot of it is being written now (filling is synchronous): its place may go to another direction
    parentPort.postMessage({ type: 'removed', index: message.index })
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
      core.stream(WORKER_STATE_OFFSET, ring.data + j * SLOT_BYTES, SLOT_BYTES / 256)
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
  /** The shared memory's functions, on the event loop's side. */
  core: Salsa20Simd
  bytes: Uint8Array
  wake: Int32Array
  rings: Set<KeystreamRing>
  /** When the last ring was let go. */
  idleSince: number
  /** Ring places no direction holds and the worker has let go. */
  free: number[]
  timer: NodeJS.Timeout
}

let shared: WorkerState | undefined
/** The worker failed once: keystream is made where needed from then on, rather than starting worker after worker. */
let broken = false
let sharedModule: WebAssembly.Module | undefined
const stats = { rings: 0, fromWorker: 0, madeHere: 0 }

/**
 * Since the process started: rings asked for, bytes XORed with keystream the worker made and made where needed (its
 * slot not ready); now: rings held, places for more, and slots the current worker has made.
 */
export function prefetchStats (): { rings: number, fromWorker: number, madeHere: number, active: number, free: number, slotsMade: number } {
  return { ...stats, active: shared?.rings.size ?? 0, free: shared?.free.length ?? MAX_RINGS, slotsMade: shared == null ? 0 : Atomics.load(shared.wake, 1) }
}

function ensureWorker (): WorkerState {
  if (shared != null) return shared
  // compiled once per process and handed to each worker: its machine code is shared with them, so a worker started
  // later runs the optimized code an earlier one tiered up to (a fresh compile ran ~5x slower for its first slots)
  sharedModule ??= new WebAssembly.Module(salsa20SimdSharedModule(PAGES))
  // min = max: the memory never grows; pages no ring touched are never backed (only a busy ring's slots are)
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true })
  const core = salsa20SimdExports(new WebAssembly.Instance(sharedModule, { env: { memory } }), memory)
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      module: sharedModule,
      memory,
      layout: { SLOT_BYTES, SLOT_BLOCKS, SLOTS, WANT, TAGS, WORKER_STATE_OFFSET, WAKE_OFFSET, CONTROL_OFFSET, CONTROL_BYTES, RINGS_OFFSET, RING_BYTES }
    }
  })
  // a worker that fails leaves every direction making its own keystream, as without it
  const fail = (): void => {
    broken = true
    if (shared?.worker === worker) endWorker()
  }
  worker.on('error', fail)
  worker.on('exit', () => { if (shared?.worker === worker) fail() })
  worker.on('message', (message: { type: string, index: number }) => {
    if (message.type === 'removed' && shared === state) state.free.push(message.index)
  })
  // after the listeners: a 'message' listener refs the worker's port again, and the process would wait for the worker
  worker.unref()
  const timer = setInterval(() => {
    const now = Date.now()
    for (const ring of [...state.rings]) if (now - ring.lastUse > IDLE_RELEASE_MS) ring.release()
    if (state.rings.size === 0 && now - state.idleSince > IDLE_RELEASE_MS && shared === state) endWorker()
  }, IDLE_RELEASE_MS / 2)
  timer.unref()
  const state: WorkerState = {
    worker,
    core,
    bytes: new Uint8Array(memory.buffer),
    wake: new Int32Array(memory.buffer, WAKE_OFFSET, 3),
    rings: new Set(),
    idleSince: Date.now(),
    free: Array.from({ length: MAX_RINGS }, (_, i) => MAX_RINGS - 1 - i),
    timer
  }
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
  private readonly control: Int32Array
  /** Where the ring's slots start in the shared memory. */
  private readonly data: number
  private want = -1
  private attached = true
  lastUse = Date.now()

  /** `state`: the direction's 16 Salsa20 input words (words 8 and 9, the block counter, are the worker's). */
  constructor (state: Uint32Array, private readonly worker: WorkerState, private readonly index: number) {
    this.control = new Int32Array(worker.bytes.buffer, CONTROL_OFFSET + index * CONTROL_BYTES, TAGS + SLOTS)
    // the place may have held another direction's ring: none of its slots is this one's
    this.control.fill(0)
    this.data = RINGS_OFFSET + index * RING_BYTES
    worker.rings.add(this)
    stats.rings++
    worker.worker.postMessage({ type: 'add', index, state })
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
      this.xorWith(src.subarray(done, done + n), dst.subarray(done, done + n), this.data + j * SLOT_BYTES + from)
      done += n
      block += n / BLOCK_BYTES
    }
    stats.fromWorker += done
    stats.madeHere += src.length - done
    // past what was ready: tell the worker where the caller goes on from
    this.advance(Math.floor((counter + src.length / BLOCK_BYTES) / SLOT_BLOCKS))
    return done
  }

  /**
   * dst = src ^ the keystream at `keystream` in the shared memory (lengths a multiple of 64), a piece at a time.
   * V8 copies to and from shared memory 8 bytes at a time only where both sides sit alike modulo 8, and byte by byte
   * otherwise (~1 GB/s: noise's frames of 65,553 bytes put most of a connection's data off any boundary). So the piece
   * is placed as src sits, and where dst sits otherwise, the bytes go through the event loop's own core's memory
   * (not shared) with a copy of the keystream instead.
   */
  private xorWith (src: Uint8Array, dst: Uint8Array, keystream: number): void {
    const { bytes, core } = this.worker
    const shift = src.byteOffset & 7
    if ((dst.byteOffset & 7) !== shift) {
      xorPrivately(src, dst, bytes.subarray(keystream, keystream + src.length))
      return
    }
    const piece = PIECE_OFFSET + shift
    for (let p = 0; p < src.length; p += PIECE_BYTES) {
      const n = Math.min(PIECE_BYTES, src.length - p)
      bytes.set(src.subarray(p, p + n), piece)
      core.xorBytes(piece, keystream + p, n / 16)
      dst.set(bytes.subarray(piece, piece + n), p)
    }
  }

  private advance (s: number): void {
    if (s <= this.want) return
    this.want = s
    Atomics.store(this.control, WANT, s)
    Atomics.add(this.worker.wake, 0, 1)
    // a notify costs ~50 us; a worker still filling sees the move without it
    if (Atomics.load(this.worker.wake, 2) === 1) Atomics.notify(this.worker.wake, 0)
  }

  /** Gives the ring up (the connection closed, or it sat unused). */
  release (): void {
    if (!this.attached) return
    this.detach()
    this.worker.rings.delete(this)
    this.worker.worker.postMessage({ type: 'remove', index: this.index })
    if (this.worker.rings.size === 0) this.worker.idleSince = Date.now()
  }

  /** @internal */
  detach (): void {
    this.attached = false
  }

  get active (): boolean {
    return this.attached
  }
}

/**
 * A ring for a direction with Salsa20 input words `state`; undefined where threads or shared WebAssembly memory are
 * missing, or while MAX_RINGS directions hold one.
 */
export function keystreamRing (state: Uint32Array): KeystreamRing | undefined {
  if (broken || typeof SharedArrayBuffer === 'undefined' || typeof Atomics.waitAsync !== 'function') return undefined
  try {
    const worker = ensureWorker()
    const index = worker.free.pop()
    return index == null ? undefined : new KeystreamRing(state, worker, index)
  } catch {
    return undefined
  }
}

/** Bytes per call through the event loop's own core: its data area holds this much keystream and as much data. */
const PRIVATE_PIECE_BYTES = 128 * 1024
if (2 * PRIVATE_PIECE_BYTES > DATA_BYTES) throw new Error('the WebAssembly data area is too small for two pieces')

/** dst = src ^ keystream (lengths equal, a multiple of 64), in the memory of the event loop's own core. */
function xorPrivately (src: Uint8Array, dst: Uint8Array, keystream: Uint8Array): void {
  const wasm = salsa20Simd()
  if (wasm == null) {
    for (let i = 0; i < src.length; i++) dst[i] = src[i] ^ keystream[i]
    return
  }
  const bytes = new Uint8Array(wasm.memory.buffer)
  const data = DATA_OFFSET + PRIVATE_PIECE_BYTES
  for (let p = 0; p < src.length; p += PRIVATE_PIECE_BYTES) {
    const n = Math.min(PRIVATE_PIECE_BYTES, src.length - p)
    bytes.set(keystream.subarray(p, p + n), DATA_OFFSET)
    bytes.set(src.subarray(p, p + n), data)
    wasm.xorBytes(data, DATA_OFFSET, n / 16)
    dst.set(bytes.subarray(data, data + n), p)
  }
}
