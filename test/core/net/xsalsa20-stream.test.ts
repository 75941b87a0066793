import { createHash, randomBytes } from 'node:crypto'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import test from 'ava'
import { createXSalsa20Stream, KeystreamExhaustedError } from '../../../core/net/xsalsa20-stream.ts'
import { salsa20Simd } from '../../../core/net/salsa20-simd.ts'

type Core = 'wasm' | 'js'
const CORES: Core[] = ['wasm', 'js']

const KEY = new Uint8Array(randomBytes(32))
const NONCE = new Uint8Array(randomBytes(24))
// longer than the WebAssembly core takes in one piece (327,168 bytes), so pieces meet inside one call
const DATA = new Uint8Array(randomBytes(700_007))
const EXPECTED = xsalsa20(KEY, NONCE, DATA)

/** Splits DATA into pieces of the given sizes (cycled) and runs them through one stream; empty if its position is off. */
function chunked (core: Core, sizes: number[], mode: 'copy' | 'in-place' | 'misaligned'): Uint8Array {
  const stream = createXSalsa20Stream(KEY, NONCE, { core })
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

test('this machine runs the WebAssembly SIMD core (else the bench measures the JavaScript one)', t => {
  t.not(salsa20Simd(), null)
})

for (const core of CORES) {
  test(`${core}: the keystream matches NaCl's XSalsa20 vectors (first 32 bytes, SHA-256 of 4 MiB)`, t => {
    // NaCl's tests/stream.c and stream3.c: the same key and nonce, 4 MiB of keystream
    const key = Buffer.from('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389', 'hex')
    const nonce = Buffer.from('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37', 'hex')
    const stream = createXSalsa20Stream(new Uint8Array(key), new Uint8Array(nonce), { core })
    const hash = createHash('sha256')
    const sizes = [32, 1000, 65_536, 7, 300_000]
    let first = ''
    for (let done = 0, n = 0; done < 4_194_304; n++) {
      const piece = stream.xor(new Uint8Array(Math.min(sizes[n % sizes.length], 4_194_304 - done)))
      if (n === 0) first = Buffer.from(piece).toString('hex')
      hash.update(piece)
      done += piece.length
    }
    t.is(first, 'eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880')
    t.is(hash.digest('hex'), '662b9d0e3463029156069b12f918691a98f7dfb2ca0393c96bbfc6b1fbd630a2')
  })

  test(`${core}: the keystream continues exactly across chunks of any size`, t => {
    const plans = [[DATA.length], [1], [7, 64, 1, 63, 65, 128, 3], [64], [4096], [65_536, 13], [100_000, 1, 99_999], [327_169, 5]]
    for (const sizes of plans) {
      for (const mode of ['copy', 'in-place', 'misaligned'] as const) {
        t.true(same(chunked(core, sizes, mode), EXPECTED), `${mode} ${sizes.join(',')}`)
      }
    }
  })

  test(`${core}: random chunk sizes give the same bytes as one-shot xsalsa20`, t => {
    for (let round = 0; round < 5; round++) {
      const sizes = Array.from({ length: 50 }, () => Math.floor(Math.random() * (round % 2 === 0 ? 200 : 20_000)))
      sizes.push(1)
      t.true(same(chunked(core, sizes, round % 2 === 0 ? 'copy' : 'misaligned'), EXPECTED))
    }
  })

  test(`${core}: the stream refuses to run past the 32-bit block counter instead of repeating keystream`, t => {
    const lastBlock = 2 ** 32 - 2
    const stream = createXSalsa20Stream(KEY, NONCE, { startBlock: lastBlock, core })
    stream.xor(new Uint8Array(60))
    stream.xor(new Uint8Array(4))
    const err = t.throws(() => stream.xor(new Uint8Array(1)), { instanceOf: KeystreamExhaustedError })
    t.is(err?.name, 'KeystreamExhaustedError')
  })
}

test('an empty chunk changes nothing', t => {
  const stream = createXSalsa20Stream(KEY, NONCE)
  stream.xor(new Uint8Array(0))
  const out = stream.xor(DATA.slice(0, 10))
  t.deepEqual(out, EXPECTED.subarray(0, 10))
})

test('wrong key or nonce sizes are refused', t => {
  t.throws(() => createXSalsa20Stream(new Uint8Array(16), NONCE), { instanceOf: TypeError })
  t.throws(() => createXSalsa20Stream(KEY, new Uint8Array(8)), { instanceOf: TypeError })
})
