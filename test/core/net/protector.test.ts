import { randomBytes } from 'node:crypto'
import { preSharedKey as libp2pPreSharedKey } from '@libp2p/pnet'
import test from 'ava'
import { drained, receiveHash, repeatedHash, sendRepeated, tcpPair } from '../../../bench/protector.ts'
import { assertPrivateNetworkAllowed, preSharedKey, PrivateNetworkRequiredError } from '../../../core/net/protector.ts'
import { POOLED_SEND_MIN_BYTES, SEND_BUFFER_BYTES, sendBufferStats } from '../../../core/net/send-buffers.ts'
import { prefetchStats } from '../../../core/net/keystream-prefetch.ts'
import { generateSwarmKey, parseSwarmKey } from '../../../core/config/index.ts'
import type { ConnectionProtector, MessageStream, StreamMessageEvent } from '@libp2p/interface'

const CHUNK_BYTES = 1024 * 1024
const CHUNKS_EACH_WAY = 500

/** Collects `bytes` bytes from `stream`. */
async function receive (stream: MessageStream, bytes: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  let received = 0
  const { promise, resolve } = Promise.withResolvers<Buffer>()
  stream.addEventListener('message', (evt: StreamMessageEvent) => {
    const data = evt.data.subarray()
    parts.push(data.slice())
    received += data.byteLength
    if (received >= bytes) resolve(Buffer.concat(parts))
  })
  return await promise
}

test('one protected connection carries 500 MiB each way intact', async t => {
  t.timeout(60_000)
  const psk = randomBytes(32)
  const pair = await tcpPair(preSharedKey({ psk })(), preSharedKey({ psk })())
  t.teardown(pair.close)
  // a chunk length that is not a multiple of the 64-byte block keeps the keystream off block boundaries
  const chunkA = randomBytes(CHUNK_BYTES - 5)
  const chunkB = randomBytes(CHUNK_BYTES + 3)
  const started = performance.now()
  const [, , atListener, atDialer] = await Promise.all([
    sendRepeated(pair.dialer, chunkA, CHUNKS_EACH_WAY),
    sendRepeated(pair.listener, chunkB, CHUNKS_EACH_WAY),
    receiveHash(pair.listener, chunkA.length * CHUNKS_EACH_WAY),
    receiveHash(pair.dialer, chunkB.length * CHUNKS_EACH_WAY)
  ])
  const seconds = (performance.now() - started) / 1000
  t.is(atListener, repeatedHash(chunkA, CHUNKS_EACH_WAY))
  t.is(atDialer, repeatedHash(chunkB, CHUNKS_EACH_WAY))
  t.log(`${(2 * CHUNKS_EACH_WAY * CHUNK_BYTES / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s`)
})

test('what crosses the wire is not the plaintext', async t => {
  const psk = randomBytes(32)
  // protected on the dialer only; the listener sends a nonce, then reads the raw bytes
  const nonceOnly: ConnectionProtector = {
    async protect (connection) {
      connection.send(randomBytes(24))
      return connection
    }
  }
  const pair = await tcpPair(preSharedKey({ psk })(), nonceOnly)
  t.teardown(pair.close)
  const message = Buffer.alloc(4096, 'a')
  const arriving = receive(pair.listener, 24 + message.length)
  pair.dialer.send(message)
  const raw = await arriving
  t.is(raw.length, 24 + message.length)
  t.false(raw.subarray(24).equals(message))
})

for (const [ours, theirs] of [['dialer', 'listener'], ['listener', 'dialer']] as const) {
  test(`our protector as ${ours} interoperates with @libp2p/pnet as ${theirs}`, async t => {
    const swarmKey = generateSwarmKey()
    const mine = preSharedKey({ psk: parseSwarmKey(swarmKey) })()
    const reference = libp2pPreSharedKey({ psk: new TextEncoder().encode(swarmKey) })()
    const pair = ours === 'dialer' ? await tcpPair(mine, reference) : await tcpPair(reference, mine)
    t.teardown(pair.close)
    // long enough to cross several 64-byte blocks, sent in two pieces to move the keystream off a block edge
    const toListener = randomBytes(1000)
    const toDialer = randomBytes(777)
    const arriving = Promise.all([receive(pair.listener, 2 * toListener.length), receive(pair.dialer, toDialer.length)])
    pair.dialer.send(toListener.subarray(0, 13))
    pair.dialer.send(toListener.subarray(13))
    pair.dialer.send(toListener)
    pair.listener.send(toDialer)
    const [atListener, atDialer] = await arriving
    t.true(atListener.equals(Buffer.concat([toListener, toListener])))
    t.true(atDialer.equals(toDialer))
  })
}

test.serial('with keystream made ahead on the worker (16 MiB each way), our protector and @libp2p/pnet still read each other', async t => {
  const swarmKey = generateSwarmKey()
  const pair = await tcpPair(preSharedKey({ psk: parseSwarmKey(swarmKey) })(), libp2pPreSharedKey({ psk: new TextEncoder().encode(swarmKey) })())
  t.teardown(pair.close)
  const before = prefetchStats().rings
  const chunk = randomBytes(CHUNK_BYTES)
  const count = 16
  const arriving = Promise.all([receiveHash(pair.listener, chunk.length * count), receiveHash(pair.dialer, chunk.length * count)])
  await Promise.all([sendRepeated(pair.dialer, chunk, count), sendRepeated(pair.listener, chunk, count)])
  const expected = repeatedHash(chunk, count)
  t.deepEqual(await arriving, [expected, expected])
  t.is(prefetchStats().rings - before, 2, 'both directions of our end asked for keystream ahead')
})

test.serial('sends of every size, written faster than the socket takes them, arrive intact while send buffers are reused', async t => {
  const psk = randomBytes(32)
  const pair = await tcpPair(preSharedKey({ psk })(), preSharedKey({ psk })())
  t.teardown(pair.close)
  // around the pooling threshold and the piece size, odd lengths so pieces start at every keystream alignment
  const sizes = [1, 3, POOLED_SEND_MIN_BYTES - 1, POOLED_SEND_MIN_BYTES, POOLED_SEND_MIN_BYTES + 5, SEND_BUFFER_BYTES - 1, SEND_BUFFER_BYTES, SEND_BUFFER_BYTES + 7, 3 * SEND_BUFFER_BYTES + 2]
  const chunks: Buffer[] = []
  for (let round = 0; round < 12; round++) for (const size of sizes) chunks.push(randomBytes(size))
  const expected = Buffer.concat(chunks)
  const before = sendBufferStats()
  const arriving = receive(pair.listener, expected.length)
  // every other round ignores backpressure, so sends pile up in the raw connection while earlier ones are on the wire
  for (const [i, chunk] of chunks.entries()) {
    if (!pair.dialer.send(chunk) && Math.floor(i / sizes.length) % 2 === 0) await drained(pair.dialer)
  }
  t.true((await arriving).equals(expected))
  const after = sendBufferStats()
  t.true(after.reused > before.reused, 'a buffer is used again once the socket has let go of it')
})

test.serial('a steady writer cycles through a few send buffers instead of one per send', async t => {
  const psk = randomBytes(32)
  const pair = await tcpPair(preSharedKey({ psk })(), preSharedKey({ psk })())
  t.teardown(pair.close)
  const chunk = randomBytes(SEND_BUFFER_BYTES)
  const count = 64
  const before = sendBufferStats()
  const arriving = receiveHash(pair.listener, chunk.length * count)
  await sendRepeated(pair.dialer, chunk, count)
  t.is(await arriving, repeatedHash(chunk, count))
  const after = sendBufferStats()
  t.true(after.reused - before.reused >= count - 8, `reused ${after.reused - before.reused} times for ${count} sends`)
  t.true(after.allocated - before.allocated <= 8, `made ${after.allocated - before.allocated} buffers`)
})

test('ends with different keys read garbage', async t => {
  const pair = await tcpPair(preSharedKey({ psk: randomBytes(32) })(), preSharedKey({ psk: randomBytes(32) })())
  t.teardown(pair.close)
  const message = randomBytes(256)
  const arriving = receive(pair.listener, message.length)
  pair.dialer.send(message)
  t.false((await arriving).equals(message))
})

test('the protector takes the text of a swarm.key file as well as the raw key', async t => {
  const swarmKey = generateSwarmKey()
  const pair = await tcpPair(preSharedKey({ psk: new TextEncoder().encode(swarmKey) })(), preSharedKey({ psk: parseSwarmKey(swarmKey) })())
  t.teardown(pair.close)
  const message = randomBytes(100)
  const arriving = receive(pair.listener, message.length)
  pair.dialer.send(message)
  t.true((await arriving).equals(message))
  t.throws(() => preSharedKey({ psk: new Uint8Array(31) }), { name: 'InvalidSwarmKeyError' })
})

test('LIBP2P_FORCE_PNET=1 requires a swarm key, as in Kubo', t => {
  const psk = new Uint8Array(32)
  t.notThrows(() => { assertPrivateNetworkAllowed(undefined, {}) })
  t.notThrows(() => { assertPrivateNetworkAllowed(undefined, { LIBP2P_FORCE_PNET: '0' }) })
  t.notThrows(() => { assertPrivateNetworkAllowed(psk, { LIBP2P_FORCE_PNET: '1' }) })
  const err = t.throws(() => { assertPrivateNetworkAllowed(undefined, { LIBP2P_FORCE_PNET: '1' }) }, { instanceOf: PrivateNetworkRequiredError, message: /LIBP2P_FORCE_PNET=1/ })
  t.is(err?.name, 'PrivateNetworkRequiredError')
})
