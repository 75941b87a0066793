import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import test from 'ava'
import { MAX_RINGS, PREFETCH_AFTER_BYTES, SLOT_BYTES, SLOTS, prefetchStats } from '../../../core/net/keystream-prefetch.ts'
import { createXSalsa20Stream } from '../../../core/net/xsalsa20-stream.ts'
import { tempDir } from '../../helpers/tmp.ts'

const KEY = new Uint8Array(randomBytes(32))
const NONCE = new Uint8Array(randomBytes(24))
// past the prefetch threshold and many rings' worth of slots, so the worker's slots wrap several times
const TOTAL = PREFETCH_AFTER_BYTES + 6 * SLOTS * SLOT_BYTES + 12_345
const DATA = new Uint8Array(randomBytes(TOTAL))
const EXPECTED = xsalsa20(KEY, NONCE, DATA)
// odd sizes, whole slots and more, tiny pieces: block boundaries, slot boundaries and partial blocks all met
const SIZES = [1, 63, 64, 65, 4096, 65_536 + 3, SLOT_BYTES, SLOT_BYTES + 64, 3 * SLOT_BYTES + 17, 100, 1_000_003]

/** Polls `check` every few milliseconds until it holds or `ms` pass. */
async function until (check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

test.serial('keystream made ahead by the worker gives the bytes XSalsa20 gives, in place, copied, off a 4-byte boundary and into a buffer sitting otherwise', async t => {
  const before = prefetchStats()
  const stream = createXSalsa20Stream(KEY, NONCE)
  const out = new Uint8Array(TOTAL)
  let offset = 0
  let waited = false
  for (let n = 0; offset < TOTAL; n++) {
    const size = Math.min(SIZES[n % SIZES.length], TOTAL - offset)
    const input = DATA.subarray(offset, offset + size)
    const mode = n % 4
    if (mode === 0) {
      stream.xor(input, out.subarray(offset, offset + size))
    } else if (mode === 3) {
      // into another buffer sitting unlike the input modulo 8
      const at = (input.byteOffset + 1) % 8
      const piece = new Uint8Array(size + 8).subarray(at, at + size)
      stream.xor(input, piece)
      out.set(piece, offset)
    } else {
      const backing = new Uint8Array(size + mode)
      const piece = backing.subarray(mode === 1 ? 0 : 1, (mode === 1 ? 0 : 1) + size)
      piece.set(input)
      stream.xor(piece)
      out.set(piece, offset)
    }
    offset += size
    // the first time a ring exists: let the worker fill it, so its slots are surely used; later it races the loop
    if (!waited && prefetchStats().active > 0) {
      waited = true
      await until(() => prefetchStats().slotsMade >= SLOTS, 10_000, 'the worker to fill the ring')
    }
  }
  t.true(Buffer.from(out).equals(Buffer.from(EXPECTED)), 'every byte matches @noble/ciphers\' xsalsa20')
  const after = prefetchStats()
  t.is(after.rings - before.rings, 1, 'one ring for the direction')
  t.true(after.fromWorker > before.fromWorker, 'the worker\'s keystream was used')
  t.true(after.madeHere > before.madeHere, 'bytes below the threshold, and any the worker had not made, were made here')
  stream.release()
  t.is(prefetchStats().active, before.active, 'a released direction gives its ring up')
})

test.serial('a direction that moves little never starts the worker; JavaScript-core streams never do', t => {
  const before = prefetchStats()
  const small = createXSalsa20Stream(KEY, NONCE)
  for (let i = 0; i < 100; i++) small.xor(new Uint8Array(1000))
  const js = createXSalsa20Stream(KEY, NONCE, { core: 'js' })
  js.xor(new Uint8Array(PREFETCH_AFTER_BYTES + SLOT_BYTES))
  js.xor(new Uint8Array(SLOT_BYTES))
  t.is(prefetchStats().rings, before.rings)
  t.is(prefetchStats().active, 0)
})

test.serial('more busy directions than rings: each gives XSalsa20\'s bytes, and a ring let go goes to one still busy', async t => {
  // the rings of the tests before are let go, and the worker may not have said so yet
  await until(() => prefetchStats().free === MAX_RINGS, 10_000, 'every ring place to be free')
  const length = PREFETCH_AFTER_BYTES + 2 * SLOT_BYTES
  const expected = Buffer.from(EXPECTED.subarray(0, length))
  const streams = Array.from({ length: MAX_RINGS + 1 }, () => createXSalsa20Stream(KEY, NONCE))
  const outputs = streams.map(stream => Buffer.from(stream.xor(DATA.subarray(0, length), new Uint8Array(length))))
  t.is(prefetchStats().active, MAX_RINGS, 'every ring is held, the last direction makes its own keystream')
  for (const [i, out] of outputs.entries()) t.true(out.equals(expected), `direction ${i}: every byte matches`)

  // the last direction goes on; once the first lets its ring go (and the worker has), it earns that one
  const last = streams[MAX_RINGS]
  streams[0].release()
  let offset = length
  await until(() => {
    const size = Math.min(SLOT_BYTES, TOTAL - offset)
    if (size === 0) throw new Error('ran out of data before the direction got a ring')
    const out = last.xor(DATA.subarray(offset, offset + size), new Uint8Array(size))
    if (!Buffer.from(out).equals(Buffer.from(EXPECTED.subarray(offset, offset + size)))) throw new Error(`wrong bytes at ${offset}`)
    offset += size
    return prefetchStats().active === MAX_RINGS
  }, 10_000, 'the freed ring to go to the busy direction')
  t.pass()
  for (const stream of streams) stream.release()
  t.is(prefetchStats().active, 0)
})

test('a process whose keystream worker is still up exits once its own work is done', async t => {
  // the worker stays up 10 s after its last ring, and a ring held idle is let go after 10 s: neither may hold the
  // process open (a CLI that pinned over the private network would hang 10-20 s before exiting)
  const dir = await tempDir()
  t.teardown(dir.remove)
  const script = join(dir.path, 'hold-a-ring.mts')
  const module = fileURLToPath(new URL('../../../core/net/keystream-prefetch.ts', import.meta.url))
  await writeFile(script, [
    `import { keystreamRing } from ${JSON.stringify(module)}`,
    'const ring = keystreamRing(new Uint32Array(16))',
    'if (ring == null) process.exit(3)',
    'await new Promise(resolve => setTimeout(resolve, 200))',
    'console.log(\'held\')'
  ].join('\n'))
  const child = spawn(process.execPath, [...process.execArgv, script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const exit = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  const deadline = new Promise<'still running'>(resolve => setTimeout(() => { resolve('still running') }, 8_000).unref())
  const outcome = await Promise.race([exit, deadline])
  child.kill('SIGKILL')
  t.is(outcome, 0, 'the process exited by itself, well before the worker would have ended')
  t.is(out.trim(), 'held', 'a ring was held while it ran')
})
