/**
 * Salsa20/20 in WebAssembly SIMD, four 64-byte blocks at a time (one block per 32-bit lane), for the PSK layer.
 * The module is assembled here, at load, from the instruction list below: this file is its source, so there is no
 * build step and no opaque bytes in the repository. `@noble/ciphers`' JavaScript Salsa20 ran at ~300-400 MB/s on
 * this machine; this runs at several times that (bench row 6, `npx tsx bench/salsa20.ts`).
 *
 * Memory layout (5 pages, fixed): bytes 0-63 hold the 16-word Salsa20 input of the call (word 8 the block counter,
 * advanced by the function), bytes 256 on the data, XORed in place with the keystream, whole groups of 4 blocks.
 * The same code also comes as a module that imports a shared memory instead (`salsa20SimdSharedModule`): the worker
 * that makes keystream ahead writes it there, where the event loop XORs with it (keystream-prefetch.ts).
 */

export const PAGE_BYTES = 65_536
const PAGES = 5
/** Where the 16-word input sits in the module's memory. */
export const STATE_OFFSET = 0
/** Where the data to XOR starts in the module's memory. */
export const DATA_OFFSET = 256
/** Most bytes one call takes: the data area, less a group of 4 blocks of slack for a partial last group. */
export const DATA_BYTES = PAGES * PAGE_BYTES - DATA_OFFSET - 256
export const BLOCK_BYTES = 64

/**
 * The instance's exports: `xor(state, data, groups)` XORs `groups * 256` bytes at `data` with the keystream;
 * `stream(state, out, groups)` (the shared-memory module only) writes `groups * 256` bytes of keystream at `out`;
 * `xorBytes(dst, src, vectors)` XORs `vectors * 16` bytes at `src` into those at `dst` (keystream made elsewhere).
 */
export interface Salsa20Simd {
  memory: WebAssembly.Memory
  xor: (state: number, data: number, groups: number) => void
  stream: (state: number, out: number, groups: number) => void
  xorBytes: (dst: number, src: number, vectors: number) => void
}

// opcodes used (core and SIMD, the latter after the 0xfd prefix)
const BLOCK = 0x02
const LOOP = 0x03
const BR_IF = 0x0d
const END = 0x0b
const LOCAL_GET = 0x20
const LOCAL_SET = 0x21
const LOCAL_TEE = 0x22
const I32_LOAD = 0x28
const I32_STORE = 0x36
const I32_CONST = 0x41
const I32_EQZ = 0x45
const I32_ADD = 0x6a
const I32_SUB = 0x6b
const SIMD = 0xfd
const V128_LOAD = 0x00
const V128_LOAD32_SPLAT = 0x09
const V128_STORE = 0x0b
const V128_CONST = 0x0c
const I8X16_SHUFFLE = 0x0d
const V128_OR = 0x50
const V128_XOR = 0x51
const I32X4_SHL = 0xab
const I32X4_SHR_U = 0xad
const I32X4_ADD = 0xae
const TYPE_I32 = 0x7f
const TYPE_V128 = 0x7b
const VOID = 0x40

function uleb (n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb (n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

/**
 * The bytes of `parts` in order, a part a byte or a list of them. The long lists (function bodies, sections, the
 * module) are joined with this, not with an array literal's spreads: V8 copies a spread after the first element in a
 * loop of the calling function's own bytecode, and ~10,000 bytes of such loops at start-up got that function
 * compiled by TurboFan on an idle node now and then, paging in ~5 MB of the optimizing compiler's machine code that
 * nothing else there needs (bench n2: 77-78 MB without, 82-84 MB with). `push` with a spread is one builtin call.
 */
function cat (...parts: Array<number | readonly number[]>): number[] {
  const out: number[] = []
  for (const part of parts) {
    if (typeof part === 'number') out.push(part)
    else out.push(...part)
  }
  return out
}

const simd = (op: number): number[] => [SIMD, ...uleb(op)]
/** A memory argument: log2 of the alignment, then the constant offset. */
const memarg = (align: number, offset: number): number[] => [align, ...uleb(offset)]
const get = (local: number): number[] => [LOCAL_GET, ...uleb(local)]
const set = (local: number): number[] => [LOCAL_SET, ...uleb(local)]
const tee = (local: number): number[] => [LOCAL_TEE, ...uleb(local)]
const i32 = (n: number): number[] => [I32_CONST, ...sleb(n)]

// locals: the three parameters, a round counter, 16 state words (one vector each), a rotate temporary, 4 transpose temporaries
const STATE = 0
const DATA = 1
const GROUPS = 2
const ROUND = 3
const X = 4
const T = X + 16
const S = T + 1

/** Lane offsets of the block counter: the 4 blocks of a group are counter + 0..3. */
const LANES = [...[0, 1, 2, 3].flatMap(n => [n, 0, 0, 0])]

/** Word `i` of the input, splat to 4 lanes (the counter word with the lane offsets added). */
function input (i: number): number[] {
  const load = [...get(STATE), ...simd(V128_LOAD32_SPLAT), ...memarg(2, STATE_OFFSET + 4 * i)]
  return i === 8 ? [...load, ...simd(V128_CONST), ...LANES, ...simd(I32X4_ADD)] : load
}

/** x[a] ^= rotl(x[b] + x[c], n). */
function step (a: number, b: number, c: number, n: number): number[] {
  return [
    ...get(X + b), ...get(X + c), ...simd(I32X4_ADD), ...tee(T),
    ...i32(n), ...simd(I32X4_SHL),
    ...get(T), ...i32(32 - n), ...simd(I32X4_SHR_U),
    ...simd(V128_OR), ...get(X + a), ...simd(V128_XOR), ...set(X + a)
  ]
}

/** A quarter round on words (y0, y1, y2, y3) as Salsa20 names them. */
function quarter (y0: number, y1: number, y2: number, y3: number): number[] {
  return [...step(y1, y0, y3, 7), ...step(y2, y1, y0, 9), ...step(y3, y2, y1, 13), ...step(y0, y3, y2, 18)]
}

function doubleRound (): number[] {
  return cat(
    // columns
    quarter(0, 4, 8, 12), quarter(5, 9, 13, 1), quarter(10, 14, 2, 6), quarter(15, 3, 7, 11),
    // rows
    quarter(0, 1, 2, 3), quarter(5, 6, 7, 4), quarter(10, 11, 8, 9), quarter(15, 12, 13, 14)
  )
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)
/** Shuffle lanes: [a.0, b.0, a.1, b.1] and [a.2, b.2, a.3, b.3] of 32-bit words. */
const INTERLEAVE_LOW = [...range(0, 4), ...range(16, 4), ...range(4, 4), ...range(20, 4)]
const INTERLEAVE_HIGH = [...range(8, 4), ...range(24, 4), ...range(12, 4), ...range(28, 4)]
/** [a.0, a.1, b.0, b.1] and [a.2, a.3, b.2, b.3]. */
const HALVES_LOW = [...range(0, 8), ...range(16, 8)]
const HALVES_HIGH = [...range(8, 8), ...range(24, 8)]

function shuffle (a: number, b: number, lanes: number[]): number[] {
  return [...get(a), ...get(b), ...simd(I8X16_SHUFFLE), ...lanes]
}

/** data[offset..+16] ^= the vector left on the stack by `value`. */
function xorInto (offset: number, value: number[]): number[] {
  return [...get(DATA), ...get(DATA), ...simd(V128_LOAD), ...memarg(4, offset), ...value, ...simd(V128_XOR), ...simd(V128_STORE), ...memarg(4, offset)]
}

/** data[offset..+16] = the vector left on the stack by `value`. */
function storeInto (offset: number, value: number[]): number[] {
  return [...get(DATA), ...value, ...simd(V128_STORE), ...memarg(4, offset)]
}

/**
 * Words 4q..4q+3 of the 4 blocks are lanes of 4 vectors; a 4x4 transpose turns them into one vector per block,
 * XORed into (or stored as) that block's bytes 16q..16q+15.
 */
function transposeInto (q: number, into: typeof xorInto): number[] {
  const v = X + 4 * q
  return [
    ...shuffle(v, v + 1, INTERLEAVE_LOW), ...set(S),
    ...shuffle(v + 2, v + 3, INTERLEAVE_LOW), ...set(S + 1),
    ...shuffle(v, v + 1, INTERLEAVE_HIGH), ...set(S + 2),
    ...shuffle(v + 2, v + 3, INTERLEAVE_HIGH), ...set(S + 3),
    ...into(16 * q, shuffle(S, S + 1, HALVES_LOW)),
    ...into(64 + 16 * q, shuffle(S, S + 1, HALVES_HIGH)),
    ...into(128 + 16 * q, shuffle(S + 2, S + 3, HALVES_LOW)),
    ...into(192 + 16 * q, shuffle(S + 2, S + 3, HALVES_HIGH))
  ]
}

/**
 * A function's body, XORing the keystream into the data or writing it over the data: built when the module is, not
 * as this file loads (an idle node never needs it).
 */
function body (into: typeof xorInto): number[] {
  return cat(
    // locals: 1 i32 (the round counter), 21 v128 (16 words, the rotate temporary, 4 transpose temporaries)
    2, 1, TYPE_I32, 21, TYPE_V128,
    BLOCK, VOID,
    get(GROUPS), I32_EQZ, BR_IF, 0,
    LOOP, VOID,
    range(0, 16).flatMap(i => [...input(i), ...set(X + i)]),
    i32(10), set(ROUND),
    LOOP, VOID,
    doubleRound(),
    get(ROUND), i32(1), I32_SUB, tee(ROUND), BR_IF, 0,
    END,
    range(0, 16).flatMap(i => [...get(X + i), ...input(i), ...simd(I32X4_ADD), ...set(X + i)]),
    range(0, 4).flatMap(q => transposeInto(q, into)),
    // the counter moves on by the group's 4 blocks (32-bit: the caller never lets it wrap)
    get(STATE), get(STATE), I32_LOAD, memarg(2, STATE_OFFSET + 32), i32(4), I32_ADD, I32_STORE, memarg(2, STATE_OFFSET + 32),
    get(DATA), i32(256), I32_ADD, set(DATA),
    get(GROUPS), i32(1), I32_SUB, tee(GROUPS), BR_IF, 0,
    END,
    END,
    END
  )
}

/** The second function's body: dst[i] ^= src[i], 16 bytes at a time (params: dst, src, vectors). */
function xorBytesBody (): number[] {
  const [DST, SRC, COUNT] = [0, 1, 2]
  return [
    0,
    BLOCK, VOID,
    ...get(COUNT), I32_EQZ, BR_IF, 0,
    LOOP, VOID,
    ...get(DST), ...get(DST), ...simd(V128_LOAD), ...memarg(0, 0), ...get(SRC), ...simd(V128_LOAD), ...memarg(0, 0),
    ...simd(V128_XOR), ...simd(V128_STORE), ...memarg(0, 0),
    ...get(DST), ...i32(16), I32_ADD, ...set(DST),
    ...get(SRC), ...i32(16), I32_ADD, ...set(SRC),
    ...get(COUNT), ...i32(1), I32_SUB, ...tee(COUNT), BR_IF, 0,
    END,
    END,
    END
  ]
}

function section (id: number, content: number[]): number[] {
  return cat(id, uleb(content.length), content)
}

function name (text: string): number[] {
  return [...uleb(text.length), ...Buffer.from(text, 'latin1')]
}

/** The module's bytes: with a memory of its own. */
export function salsa20SimdModule (): Uint8Array<ArrayBuffer> {
  return moduleBytes()
}

/**
 * The same functions over an imported shared memory (`env.memory`) of exactly `pages` pages, so that threads
 * holding instances of it work on the same bytes.
 */
export function salsa20SimdSharedModule (pages: number): Uint8Array<ArrayBuffer> {
  return moduleBytes(pages)
}

function moduleBytes (sharedPages?: number): Uint8Array<ArrayBuffer> {
  // `stream` only where the worker needs it: the event loop's own module never makes keystream on its own
  const functions = sharedPages == null ? [body(xorInto), xorBytesBody()] : [body(xorInto), body(storeInto), xorBytesBody()]
  // memory limits with a maximum, min = max, so it never grows (and never detaches views held on it); 0x03: shared
  const memory = sharedPages == null
    ? section(5, [1, 0x01, ...uleb(PAGES), ...uleb(PAGES)])
    : section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(sharedPages), ...uleb(sharedPages)])
  const exports = sharedPages == null
    ? [...name('xor'), 0x00, 0, ...name('xorBytes'), 0x00, 1]
    : [...name('xor'), 0x00, 0, ...name('stream'), 0x00, 1, ...name('xorBytes'), 0x00, 2]
  return new Uint8Array(cat(
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    section(1, [1, 0x60, 3, TYPE_I32, TYPE_I32, TYPE_I32, 0]),
    // the import section (2) comes before the function section (3), the memory section (5) after it
    sharedPages == null ? [] : memory,
    // the functions, all of that one type
    section(3, [functions.length, ...functions.map(() => 0)]),
    sharedPages == null ? memory : [],
    sharedPages == null
      ? section(7, [functions.length + 1, ...name('memory'), 0x02, 0, ...exports])
      : section(7, [functions.length, ...exports]),
    section(10, cat(functions.length, ...functions.flatMap(code => [uleb(code.length), code])))
  ))
}

/** An instance's exports as the interface names them. */
export function salsa20SimdExports (instance: WebAssembly.Instance, memory?: WebAssembly.Memory): Salsa20Simd {
  const exports = instance.exports
  return {
    memory: memory ?? exports.memory as WebAssembly.Memory,
    xor: exports.xor as Salsa20Simd['xor'],
    stream: exports.stream as Salsa20Simd['stream'],
    xorBytes: exports.xorBytes as Salsa20Simd['xorBytes']
  }
}

let instance: Salsa20Simd | null | undefined

/** The compiled module, or null where WebAssembly SIMD is not available (the caller falls back to JavaScript). */
export function salsa20Simd (): Salsa20Simd | null {
  if (instance !== undefined) return instance
  const bytes = salsa20SimdModule()
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) {
    instance = null
    return instance
  }
  instance = salsa20SimdExports(new WebAssembly.Instance(new WebAssembly.Module(bytes)))
  return instance
}
