import { randomBytes } from 'node:crypto'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import test from 'ava'
import { createXSalsa20Stream, KeystreamExhaustedError } from '../../../core/net/xsalsa20-stream.ts'

const KEY = new Uint8Array(randomBytes(32))
const NONCE = new Uint8Array(randomBytes(24))
const DATA = new Uint8Array(randomBytes(300_007))
const EXPECTED = xsalsa20(KEY, NONCE, DATA)

/** Splits DATA into pieces of the given sizes (cycled) and runs them through one stream; empty if its position is off. */
function chunked (sizes: number[], mode: 'copy' | 'in-place' | 'misaligned'): Uint8Array {
  const stream = createXSalsa20Stream(KEY, NONCE)
  const out = new Uint8Array(DATA.length)
  let offset = 0
  for (let n = 0; offset < DATA.length; n++) {
    const size = Math.min(sizes[n % sizes.length], DATA.length - offset)
    const input = DATA.subarray(offset, offset + size)
    if (mode === 'copy') {
      stream.xor(input, out.subarray(offset, offset + size))
    } else if (mode === 'in-place') {
      const piece = input.slice()
      stream.xor(piece)
      out.set(piece, offset)
    } else {
      // a view that starts off a 4-byte boundary, as socket buffers may
      const backing = new Uint8Array(size + 3)
      const piece = backing.subarray(3)
      piece.set(input)
      stream.xor(piece)
      out.set(piece, offset)
    }
    offset += size
  }
  return stream.position === DATA.length ? out : new Uint8Array(0)
}

function same (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

test('the keystream continues exactly across chunks of any size', t => {
  const plans = [[DATA.length], [1], [7, 64, 1, 63, 65, 128, 3], [64], [4096], [65_536, 13], [100_000, 1, 99_999]]
  for (const sizes of plans) {
    for (const mode of ['copy', 'in-place', 'misaligned'] as const) {
      t.true(same(chunked(sizes, mode), EXPECTED), `${mode} ${sizes.join(',')}`)
    }
  }
})

test('random chunk sizes give the same bytes as one-shot xsalsa20', t => {
  for (let round = 0; round < 5; round++) {
    const sizes = Array.from({ length: 50 }, () => Math.floor(Math.random() * (round % 2 === 0 ? 200 : 20_000)))
    sizes.push(1)
    t.true(same(chunked(sizes, round % 2 === 0 ? 'copy' : 'misaligned'), EXPECTED))
  }
})

test('an empty chunk changes nothing', t => {
  const stream = createXSalsa20Stream(KEY, NONCE)
  stream.xor(new Uint8Array(0))
  const out = stream.xor(DATA.slice(0, 10))
  t.deepEqual(out, EXPECTED.subarray(0, 10))
})

test('the stream refuses to run past the 32-bit block counter instead of repeating keystream', t => {
  const lastBlock = 2 ** 32 - 2
  const stream = createXSalsa20Stream(KEY, NONCE, { startBlock: lastBlock })
  stream.xor(new Uint8Array(60))
  stream.xor(new Uint8Array(4))
  const err = t.throws(() => stream.xor(new Uint8Array(1)), { instanceOf: KeystreamExhaustedError })
  t.is(err?.name, 'KeystreamExhaustedError')
})

test('wrong key or nonce sizes are refused', t => {
  t.throws(() => createXSalsa20Stream(new Uint8Array(16), NONCE), { instanceOf: TypeError })
  t.throws(() => createXSalsa20Stream(KEY, new Uint8Array(8)), { instanceOf: TypeError })
})
