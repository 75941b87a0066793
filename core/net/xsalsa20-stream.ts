import { hsalsa, salsa20 } from '@noble/ciphers/salsa.js'
import { CidcastError } from '../errors.ts'
import { BLOCK_BYTES, DATA_BYTES, DATA_OFFSET, STATE_OFFSET, salsa20Simd } from './salsa20-simd.ts'
import { PREFETCH_AFTER_BYTES, keystreamRing } from './keystream-prefetch.ts'
import type { KeystreamRing } from './keystream-prefetch.ts'
import type { Salsa20Simd } from './salsa20-simd.ts'

/**
 * A streaming XSalsa20 keystream. We keep the position across calls of any size: a leftover keystream block
 * serves partial blocks, and whole blocks go to a Salsa20 core in one call starting at the right counter. The core
 * is WebAssembly SIMD (salsa20-simd.ts, ~4x faster) where the runtime has it, else `@noble/ciphers`' JavaScript.
 *
 * XSalsa20 is HSalsa20(key, nonce[0..16]) as a subkey for Salsa20 with nonce[16..24], so the subkey is
 * derived once here instead of on every call.
 */

export const NONCE_BYTES = 24
export const KEY_BYTES = 32
/** noble refuses a block counter of 2^32 - 1 and beyond (it never wraps): 256 GiB of keystream. */
const MAX_BLOCKS = 2 ** 32 - 1

/** The keystream of one direction of a connection ran out (256 GiB); the connection must be re-established. */
export class KeystreamExhaustedError extends CidcastError {
  static override readonly code = 'KeystreamExhaustedError'
  override readonly name = 'KeystreamExhaustedError'
}

export interface XSalsa20Stream {
  /**
   * XORs `input` with the next `input.length` keystream bytes into `output` (default: in place).
   * `output` must be `input` itself or not overlap it.
   */
  xor (input: Uint8Array, output?: Uint8Array): Uint8Array
  /** Keystream bytes used so far. */
  readonly position: number
  /** Lets go of the keystream made ahead for this direction, if any (its connection closed). */
  release (): void
}

export interface XSalsa20StreamInit {
  /** Start at this 64-byte block instead of 0 (for tests of the counter limit). @default 0 */
  startBlock?: number
  /** The Salsa20 core: WebAssembly SIMD, or JavaScript (tests compare them). @default 'wasm' where available */
  core?: 'wasm' | 'js'
  /**
   * Once the direction has moved PREFETCH_AFTER_BYTES, have a worker thread make its keystream ahead
   * (keystream-prefetch.ts); WebAssembly core only. @default true
   */
  prefetch?: boolean
}

/** Creates a stateful XSalsa20 keystream for one direction of a connection. */
export function createXSalsa20Stream (key: Uint8Array, nonce: Uint8Array, init: XSalsa20StreamInit = {}): XSalsa20Stream {
  const wasm = init.core === 'js' ? null : salsa20Simd()
  return new Stream(key, nonce, init.startBlock ?? 0, wasm == null ? xorBlocksJs : wasmCore(wasm), wasm != null && init.prefetch !== false)
}

/** XORs `src` (whole 64-byte blocks) with the Salsa20 keystream from block `counter` into `dst`. */
type XorBlocks = (subkey: Uint8Array, nonce: Uint8Array, src: Uint8Array, dst: Uint8Array, counter: number) => void

// 'expand 32-byte k' as little-endian words: the Salsa20 constant for 256-bit keys
const SIGMA = new Uint32Array(new Uint8Array(Buffer.from('expand 32-byte k', 'latin1')).buffer)

function subkeyOf (key: Uint8Array, nonce: Uint8Array): Uint8Array {
  // hsalsa takes native views of little-endian bytes, as noble's own xsalsa20 passes them
  const out = new Uint32Array(8)
  hsalsa(SIGMA, new Uint32Array(key.slice().buffer), new Uint32Array(nonce.slice(0, 16).buffer), out)
  return new Uint8Array(out.buffer)
}

/** One scratch buffer for all streams: xor() is synchronous, so no two calls ever use it at once. */
const SCRATCH = new Uint8Array(64 * 1024)

function isAligned (bytes: Uint8Array): boolean {
  return bytes.byteOffset % 4 === 0
}

class Stream implements XSalsa20Stream {
  private readonly subkey: Uint8Array
  private readonly nonce: Uint8Array
  /** The next block counter the core will be asked for. */
  private block: number
  /** Keystream of block `block - 1` when `used < 64`. */
  private readonly leftover = new Uint8Array(BLOCK_BYTES)
  private used = BLOCK_BYTES
  private bytes = 0
  private ring: KeystreamRing | undefined
  /** Bytes since the last ring was let go (or since the start): a ring is asked for after PREFETCH_AFTER_BYTES. */
  private sinceRing = 0

  constructor (key: Uint8Array, nonce: Uint8Array, startBlock: number, private readonly core: XorBlocks, private prefetch = false) {
    if (key.length !== KEY_BYTES) throw new TypeError(`XSalsa20 key must be ${KEY_BYTES} bytes, got ${key.length}`)
    if (nonce.length !== NONCE_BYTES) throw new TypeError(`XSalsa20 nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`)
    if (!Number.isSafeInteger(startBlock) || startBlock < 0 || startBlock > MAX_BLOCKS) throw new RangeError('bad start block')
    this.subkey = subkeyOf(key, nonce)
    this.nonce = nonce.slice(16, 24)
    this.block = startBlock
  }

  get position (): number {
    return this.bytes
  }

  xor (input: Uint8Array, output: Uint8Array = input): Uint8Array {
    const length = input.length
    if (output.length < length) throw new RangeError('output is shorter than input')
    let i = 0

    // finish the block a previous call started
    if (this.used < BLOCK_BYTES && length > 0) {
      const take = Math.min(BLOCK_BYTES - this.used, length)
      const ks = this.leftover
      const base = this.used
      for (let j = 0; j < take; j++) output[j] = input[j] ^ ks[base + j]
      this.used += take
      i = take
    }

    const whole = Math.floor((length - i) / BLOCK_BYTES)
    const tail = length - i - whole * BLOCK_BYTES
    if (this.block + whole + (tail > 0 ? 1 : 0) > MAX_BLOCKS) {
      throw new KeystreamExhaustedError('the XSalsa20 keystream of this connection is used up (256 GiB); reconnect')
    }

    if (whole > 0) {
      const end = i + whole * BLOCK_BYTES
      let from = i
      const ring = this.prefetching(length)
      if (ring != null) from += ring.xor(input.subarray(i, end), output.subarray(i, end), this.block)
      if (from < end) this.core(this.subkey, this.nonce, input.subarray(from, end), output.subarray(from, end), this.block + (from - i) / BLOCK_BYTES)
      this.block += whole
      i = end
    }

    if (tail > 0) {
      const ks = this.leftover
      ks.fill(0)
      this.core(this.subkey, this.nonce, ks, ks, this.block)
      this.block++
      for (let j = 0; j < tail; j++) output[i + j] = input[i + j] ^ ks[j]
      this.used = tail
    }

    this.bytes += length
    return output.length === length ? output : output.subarray(0, length)
  }

  release (): void {
    this.prefetch = false
    this.ring?.release()
    this.ring = undefined
  }

  /** The ring this call may use: kept while active, asked for once the direction moved enough since the last one. */
  private prefetching (length: number): KeystreamRing | undefined {
    if (!this.prefetch) return undefined
    if (this.ring != null && !this.ring.active) {
      // let go while idle: a direction that is busy again earns a new one the same way
      this.ring = undefined
      this.sinceRing = 0
    }
    this.sinceRing += length
    if (this.ring == null && this.sinceRing >= PREFETCH_AFTER_BYTES) {
      this.ring = keystreamRing(salsaInput(this.subkey, this.nonce))
      // no threads here, or every ring taken: ask again after as many bytes
      if (this.ring == null) this.sinceRing = 0
    }
    return this.ring
  }
}

/**
 * noble XORs a word at a time only when input and output both start on a 4-byte boundary, and byte by
 * byte otherwise (half the speed); a copy costs far less than that, so misaligned data is moved first.
 */
function xorBlocksJs (subkey: Uint8Array, nonce: Uint8Array, src: Uint8Array, dst: Uint8Array, counter: number): void {
  if (isAligned(dst)) {
    if (!isAligned(src)) {
      // src is not dst here (dst is aligned); they do not overlap, so dst can take the bytes first
      dst.set(src)
      src = dst
    }
    salsa20(subkey, nonce, src, dst, counter)
    return
  }
  for (let p = 0; p < src.length; p += SCRATCH.length) {
    const piece = Math.min(SCRATCH.length, src.length - p)
    const scratch = SCRATCH.subarray(0, piece)
    scratch.set(src.subarray(p, p + piece))
    salsa20(subkey, nonce, scratch, scratch, counter + p / BLOCK_BYTES)
    dst.set(scratch, p)
  }
}

/**
 * The WebAssembly core XORs in its own memory: each piece is copied in, XORed there in groups of 4 blocks (the
 * module keeps a group of slack past its data area, so a partial last group writes only there) and copied out.
 */
/** The 16 Salsa20 input words for `subkey` and the 8-byte `nonce`; words 8 and 9 (the block counter) are left 0. */
function salsaInput (subkey: Uint8Array, nonce: Uint8Array): Uint32Array {
  const k = new Uint32Array(subkey.buffer, subkey.byteOffset, 8)
  const n = new Uint32Array(nonce.buffer, nonce.byteOffset, 2)
  return Uint32Array.of(SIGMA[0], k[0], k[1], k[2], k[3], SIGMA[1], n[0], n[1], 0, 0, SIGMA[2], k[4], k[5], k[6], k[7], SIGMA[3])
}

function wasmCore (wasm: Salsa20Simd): XorBlocks {
  const words = new Uint32Array(wasm.memory.buffer, STATE_OFFSET, 16)
  const bytes = new Uint8Array(wasm.memory.buffer)
  // a stream's subkey and nonce never change: its input words are made once
  const inputs = new WeakMap<Uint8Array, Uint32Array>()
  return (subkey, nonce, src, dst, counter) => {
    let input = inputs.get(subkey)
    if (input == null) {
      input = salsaInput(subkey, nonce)
      inputs.set(subkey, input)
    }
    words.set(input)
    for (let p = 0; p < src.length; p += DATA_BYTES) {
      const piece = Math.min(DATA_BYTES, src.length - p)
      words[8] = (counter + p / BLOCK_BYTES) >>> 0
      bytes.set(src.subarray(p, p + piece), DATA_OFFSET)
      wasm.xor(STATE_OFFSET, DATA_OFFSET, Math.ceil(piece / (4 * BLOCK_BYTES)))
      dst.set(bytes.subarray(DATA_OFFSET, DATA_OFFSET + piece), p)
    }
  }
}
