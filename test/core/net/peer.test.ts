import { createHash, randomBytes } from 'node:crypto'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import anyTest from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { generateSwarmKey, parseSwarmKey } from '../../../core/config/index.ts'
import { IMPORT_OPTIONS } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPeer, IDENTITY_FILE } from '../../../core/net/peer.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { Peer, PeerInit } from '../../../core/net/peer.ts'
import type { TestFn } from 'ava'
import type { CID } from 'multiformats/cid'

const test = anyTest as TestFn<{ peers: Peer[], dirs: Array<{ remove: () => Promise<void> }> }>

const FILE_BYTES = 3 * 1024 * 1024 + 12_345

test.beforeEach(t => {
  t.context = { peers: [], dirs: [] }
})

test.afterEach.always(async t => {
  await Promise.all(t.context.peers.map(async peer => { await peer.stop() }))
  await Promise.all(t.context.dirs.map(async dir => { await dir.remove() }))
})

async function dataDir (t: { context: { dirs: Array<{ remove: () => Promise<void> }> } }): Promise<string> {
  const dir = await tempDir('cidcast-peer-')
  t.context.dirs.push(dir)
  return dir.path
}

async function start (t: { context: { peers: Peer[] } }, init: PeerInit): Promise<Peer> {
  const peer = await createPeer({ logger: silentLogger() }, init)
  t.context.peers.push(peer)
  return peer
}

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

test('two peers with the same key connect and a UnixFS file crosses bitswap byte-identical', async t => {
  const swarmKey = randomBytes(32)
  const origin = await start(t, { swarmKey, dataDir: await dataDir(t) })
  const edge = await start(t, { swarmKey, dataDir: await dataDir(t) })

  const bytes = randomBytes(FILE_BYTES)
  const cid = await unixfs(origin).addBytes(bytes, { ...IMPORT_OPTIONS })
  t.is(cid.version, 1)
  t.false(await edge.blockstore.has(cid))

  const connection = await edge.libp2p.dial(origin.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) })
  t.is(connection.remotePeer.toString(), origin.libp2p.peerId.toString())
  t.is(connection.remoteAddr.toString().startsWith('/ip4/127.0.0.1/tcp/'), true)

  const hash = createHash('sha256')
  let received = 0
  for await (const chunk of unixfs(edge).cat(cid, { signal: AbortSignal.timeout(30_000) })) {
    hash.update(chunk)
    received += chunk.byteLength
  }
  t.is(received, bytes.length)
  t.is(hash.digest('hex'), sha256(bytes))
  t.true(await edge.blockstore.has(cid))
})

/** A Helia peer built only from stock parts: `@libp2p/pnet` (its own XSalsa20), noise with its default crypto, yamux. */
async function stockPeer (t: { teardown: (fn: () => Promise<void>) => void }, swarmKeyFile: string): Promise<Peer> {
  const helia = withBitswap(withLibp2pLight(createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionProtector: preSharedKey({ psk: new TextEncoder().encode(swarmKeyFile) }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: { identify: identify() }
  }))
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  return helia as unknown as Peer
}

async function catHash (peer: Peer, cid: CID): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of unixfs(peer).cat(cid, { signal: AbortSignal.timeout(30_000) })) hash.update(chunk)
  return hash.digest('hex')
}

for (const dialer of ['stock', 'cidcast'] as const) {
  test(`a stock Helia peer with @libp2p/pnet and a cidcast peer exchange files both ways (${dialer} dials)`, async t => {
    // @libp2p/pnet's own cipher stalls after ~60 MB (PITFALLS): a few MiB each way stays well under it
    const swarmKeyFile = generateSwarmKey()
    const ours = await start(t, { swarmKey: parseSwarmKey(swarmKeyFile), dataDir: await dataDir(t) })
    const stock = await stockPeer(t, swarmKeyFile)
    const fromUs = randomBytes(FILE_BYTES)
    const fromThem = randomBytes(FILE_BYTES + 77)
    const ourCid = await unixfs(ours).addBytes(fromUs, { ...IMPORT_OPTIONS })
    const theirCid = await unixfs(stock).addBytes(fromThem, { ...IMPORT_OPTIONS })
    const [from, to] = dialer === 'stock' ? [stock, ours] : [ours, stock]
    const connection = await from.libp2p.dial(to.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) })
    t.is(connection.remotePeer.toString(), to.libp2p.peerId.toString())
    t.is(await catHash(stock, ourCid), sha256(fromUs))
    t.is(await catHash(ours, theirCid), sha256(fromThem))
  })
}

test('peers with different keys cannot connect', async t => {
  const origin = await start(t, { swarmKey: randomBytes(32) })
  const stranger = await start(t, { swarmKey: randomBytes(32) })
  // the garbage either fails the noise handshake at once or leaves it waiting for bytes until the deadline
  await t.throwsAsync(stranger.libp2p.dial(origin.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(3_000) }))
  t.is(stranger.libp2p.getConnections().length, 0)
})

test('the peer ID survives a restart with the same data folder', async t => {
  const swarmKey = randomBytes(32)
  const dir = await dataDir(t)
  const first = await createPeer({ logger: silentLogger() }, { swarmKey, dataDir: dir })
  const id = first.libp2p.peerId.toString()
  const cid = await unixfs(first).addBytes(randomBytes(1000), { ...IMPORT_OPTIONS })
  await first.stop()
  t.is((await stat(join(dir, IDENTITY_FILE))).mode & 0o777, 0o600)

  const second = await start(t, { swarmKey, dataDir: dir })
  t.is(second.libp2p.peerId.toString(), id)
  t.true(await second.blockstore.has(cid), 'blocks persist in the data folder')

  const elsewhere = await start(t, { swarmKey, dataDir: await dataDir(t) })
  t.not(elsewhere.libp2p.peerId.toString(), id)
})

test('a peer listens where it is told and refuses a swarm key of the wrong size', async t => {
  const peer = await start(t, { swarmKey: randomBytes(32), listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0'] })
  t.is(peer.libp2p.getMultiaddrs().length, 2)
  await t.throwsAsync(createPeer({ logger: silentLogger() }, { swarmKey: randomBytes(31) }), { name: 'InvalidSwarmKeyError' })
})

test('a connection gater decides which peers may connect', async t => {
  const swarmKey = randomBytes(32)
  const refused = new Set<string>()
  const origin = await start(t, {
    swarmKey,
    connectionGater: { denyInboundEncryptedConnection: peerId => refused.has(peerId.toString()) }
  })
  const revoked = await start(t, { swarmKey })
  refused.add(revoked.libp2p.peerId.toString())
  // the dialer may finish its side before the listener refuses; then the connection must not stay open
  await revoked.libp2p.dial(origin.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(3_000) }).then(
    async connection => { await waitFor(() => connection.status !== 'open', 3_000, 'the refused connection to close'); return 'closed' },
    () => 'refused'
  )
  t.is(origin.libp2p.getConnections(revoked.libp2p.peerId).length, 0)
  const welcome = await start(t, { swarmKey })
  const connection = await welcome.libp2p.dial(origin.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(3_000) })
  t.is(connection.status, 'open')
})

test('a damaged identity file is refused with InvalidConfigError', async t => {
  const dir = await dataDir(t)
  await writeFile(join(dir, IDENTITY_FILE), 'not a key')
  await t.throwsAsync(createPeer({ logger: silentLogger() }, { swarmKey: randomBytes(32), dataDir: dir }), { name: 'InvalidConfigError', message: /identity\.key/ })
})
