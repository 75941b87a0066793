import { join } from 'node:path'
import { delegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import { withHTTP } from '@helia/http'
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import anyTest from 'ava'
import { createHeliaLight } from 'helia'
import { createControlClient } from '../../../core/control/index.ts'
import { createLogger } from '../../../core/logger.ts'
import { createPeer } from '../../../core/net/peer.ts'
import { readSwarmKey, SWARM_KEY_FILE } from '../../../core/config/index.ts'
import { IPNS_RECORD_CONTENT_TYPE, ipnsNameOf, signIpnsRecord, validateIpnsRecord } from '../../../core/routing/ipns-records.ts'
import { createIpnsPublisher, readManifest } from '../../../core/routing/index.ts'
import { startServer } from '../../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../../helpers/auth.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { Peer } from '../../../core/net/peer.ts'
import type { IpnsPublisher, PublishedState } from '../../../core/routing/index.ts'
import type { RunningServer } from '../../../node/server.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { TestFn } from 'ava'

interface Fixture {
  server: RunningServer
  node: Peer
  key: PrivateKey
  peerId: PeerId
  name: string
  publisher: IpnsPublisher
  published: PublishedState
  cleanup: Array<() => Promise<void>>
}

const test = anyTest as TestFn<Fixture>
const logger = createLogger({ level: 'silent' })
const ROOT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

test.before(async t => {
  const cleanup: Array<() => Promise<void>> = []
  t.context = { cleanup } as unknown as Fixture
  const dir = await tempDir()
  cleanup.push(dir.remove)
  const dataDir = join(dir.path, 'main')
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', accounts: TEST_ACCOUNTS })
  cleanup.push(server.stop)

  // a CDN node as cidcast node builds it: a peer on the server's swarm key, registered over the control protocol
  const key = await generateKeyPair('Ed25519')
  const node = await createPeer({ logger }, { swarmKey: await readSwarmKey(join(dataDir, SWARM_KEY_FILE)), privateKey: key })
  cleanup.push(async () => { await node.stop() })
  await node.libp2p.peerStore.merge(server.peer.libp2p.peerId, { multiaddrs: server.peer.libp2p.getMultiaddrs() })
  const control = createControlClient({ libp2p: node.libp2p, logger }, { server: server.peer.libp2p.peerId })
  const peerId = peerIdFromPrivateKey(key)
  const name = ipnsNameOf(peerId)
  const capacity = { quotaBytes: 1e9, usedBytes: 1e6, freeBytes: 999e6 }
  await control.register({ name: 'attic', mode: 'shared', url: 'http://127.0.0.1:9/', addresses: node.libp2p.getMultiaddrs().map(String), ipns: name, capacity })

  const publisher = createIpnsPublisher({ logger, peer: node, privateKey: key }, { routingUrl: server.url, retryMs: 100 })
  await publisher.start()
  cleanup.push(async () => { await publisher.stop() })
  const published = await publisher.update({ name: 'attic', mode: 'shared', url: 'http://127.0.0.1:9/', capacity, pinned: [ROOT] })
  t.context = { server, node, key, peerId, name, publisher, published, cleanup }
})

test.after.always(async t => {
  for (const step of (t.context.cleanup ?? []).reverse()) await step().catch(() => {})
})

function stockClient (t: { context: Fixture }): ReturnType<ReturnType<typeof delegatedRoutingV1HttpApiClient>> {
  return delegatedRoutingV1HttpApiClient({ url: t.context.server.url, cacheTTL: 0, timeout: 10_000 })({ logger: t.context.node.logger })
}

test.serial('the stock client resolves a registered node name at the main server to its manifest CID', async t => {
  const client = stockClient(t)
  await client.start()
  try {
    const bytes = await client.getIPNS(t.context.peerId.toCID())
    const record = await validateIpnsRecord(t.context.name, bytes)
    t.is(record.value, `/ipfs/${t.context.published.manifestCid.toString()}`)
    t.is(record.sequence, t.context.published.sequence)
    t.deepEqual((await t.context.server.ipns.get(t.context.name))?.bytes, bytes)
  } finally {
    await client.stop()
  }
})

test.serial('the main server reads the manifest from the node over bitswap', async t => {
  const manifest = await readManifest(t.context.server.peer.blockstore, t.context.published.manifestCid, { signal: AbortSignal.timeout(10_000) })
  t.is(manifest.peerId, t.context.peerId.toString())
  t.is(manifest.name, 'attic')
  t.deepEqual(manifest.pinned, [ROOT])
})

test.serial('verified-fetch resolves ipns://<node name> through the main server routing API and gateway', async t => {
  // the manifest block is on the main server now (read over bitswap above); its /ipfs gateway serves it to a
  // signed-in caller (an API token), as it does every content read
  const auth = bearer(await adminToken(t.context.server))
  const helia = withHTTP(createHeliaLight(), {
    delegatedRouters: [t.context.server.url],
    recursiveGateways: [t.context.server.url],
    allowLocal: true,
    allowInsecure: true,
    transformRequestInit: init => ({ ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), ...auth } })
  })
  await helia.start()
  const fetch = await createVerifiedFetchWithHelia(helia)
  try {
    const res = await fetch(`ipns://${t.context.name}`, { signal: AbortSignal.timeout(15_000) })
    t.is(res.status, 200)
    const body = await res.json()
    t.is(body.peerId, t.context.peerId.toString())
    t.deepEqual(body.pinned, [ROOT])
  } finally {
    await fetch.stop()
    await helia.stop()
  }
})

test.serial('a record for a key that never registered is refused with 403', async t => {
  const stranger = await generateKeyPair('Ed25519')
  const name = ipnsNameOf(peerIdFromPrivateKey(stranger))
  const res = await fetch(`${t.context.server.url}/routing/v1/ipns/${name}`, {
    method: 'PUT',
    headers: { 'Content-Type': IPNS_RECORD_CONTENT_TYPE },
    body: Buffer.from(await signIpnsRecord(stranger, `/ipfs/${ROOT}`, 1))
  })
  t.is(res.status, 403)
  t.is((await res.json()).error, 'IpnsNameNotAllowedError')
  t.is(await t.context.server.ipns.get(name), undefined)
})

test.serial('a stale put through the stock client fails; after a foreign jump in sequence the publisher continues above it', async t => {
  const client = stockClient(t)
  await client.start()
  try {
    const current = t.context.published.sequence
    // (the same sequence signed now would win: its validity runs longer)
    await t.throwsAsync(client.putIPNS(t.context.peerId.toCID(), await signIpnsRecord(t.context.key, `/ipfs/${ROOT}`, current - 1n)))
    await client.putIPNS(t.context.peerId.toCID(), await signIpnsRecord(t.context.key, `/ipfs/${ROOT}`, current + 5n))
    t.is((await t.context.server.ipns.get(t.context.name))?.value, `/ipfs/${ROOT}`)
    // the publisher's next put is refused as stale; it learns the server's sequence and its retry lands above it
    await t.throwsAsync(t.context.publisher.update({ name: 'attic', mode: 'shared', url: 'http://127.0.0.1:9/', capacity: { quotaBytes: 1e9, usedBytes: 1e6, freeBytes: 999e6 }, pinned: [] }))
    const kept = await waitFor(async () => {
      const record = await t.context.server.ipns.get(t.context.name)
      // the server keeps it a moment before the publisher hears the 200 and saves its state
      return record != null && record.sequence > current + 5n && t.context.publisher.state()?.sequence === record.sequence ? record : undefined
    }, 10_000, 'the retried publish')
    t.is(kept.value, t.context.publisher.state()?.value ?? '')
  } finally {
    await client.stop()
  }
})

test.serial('peer routing answers for registered nodes and for the main server itself', async t => {
  const client = stockClient(t)
  await client.start()
  try {
    const node = []
    for await (const record of client.getPeers(t.context.peerId.toCID())) node.push(record)
    t.is(node.length, 1)
    t.deepEqual(node[0].Addrs.map(String).sort(), t.context.node.libp2p.getMultiaddrs().map(String).sort())
    const self = []
    for await (const record of client.getPeers(t.context.server.peer.libp2p.peerId.toCID())) self.push(record)
    t.is(self.length, 1)
    t.true(self[0].Addrs.length > 0)
  } finally {
    await client.stop()
  }
})
