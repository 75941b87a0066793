import { CIDCAST_VERSION } from '../../core/version.ts'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import anyTest from 'ava'
import { readSwarmKey } from '../../core/config/swarm-key.ts'
import { CONTROL_PROTOCOL, createControlClient, ipnsNameOf } from '../../core/control/index.ts'
import { controlWire } from '../../core/control/wire.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/peer.ts'
import { CAPACITY, HEALTH } from '../core/control/helpers.ts'
import { assertNoInternals, catalogProbe, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { Peer } from '../../core/net/peer.ts'
import type { TestFn } from 'ava'

/*
 * Hostile frames on the node <-> server control protocol (`/cidcast/control/1.0.0`, one length-prefixed JSON
 * request and reply per stream), sent by a real libp2p peer inside the private network (it has the swarm key):
 * each is refused with an error reply (or the stream is reset), nothing is registered, and the server goes on
 * serving: HTTP answers and another peer registers at the end.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, edge: Peer, snapshot: () => Promise<unknown> }>

test.before(async t => {
  const main = await startTestServer()
  const swarmKey = await readSwarmKey(join(main.dir, 'data', 'swarm.key'))
  const edge = await createPeer({ logger: silentLogger() }, { swarmKey })
  await edge.libp2p.peerStore.merge(main.server.peer.libp2p.peerId, { multiaddrs: main.server.peer.libp2p.getMultiaddrs() })
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  t.context = { main, probe, edge, snapshot: serverSnapshot(join(main.dir, 'data'), probe) }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.edge?.stop()
  await t.context.main?.stop()
})

/** Sends one frame (JSON, or raw bytes as one length-prefixed message) and reads the reply, or how the stream ended. */
async function exchange (edge: Peer, server: TestServer, message: unknown): Promise<{ type: string, error?: string, message?: string }> {
  const signal = AbortSignal.timeout(10_000)
  const stream = await edge.libp2p.dialProtocol(server.server.peer.libp2p.peerId, CONTROL_PROTOCOL, { signal })
  try {
    if (message instanceof Uint8Array) {
      const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
      await lp.write(message, { signal })
      return await controlWire(lp.unwrap()).read({ signal }) as { type: string }
    }
    const wire = controlWire(stream)
    await wire.write(message, { signal })
    return await wire.read({ signal }) as { type: string }
  } catch (err) {
    // a stream the server reset or closed: refused without a reply
    return { type: 'closed', error: (err as Error).name }
  } finally {
    stream.abort(new Error('done'))
  }
}

function register (edge: Peer, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'register', name: 'hostile edge', mode: 'shared', url: 'http://127.0.0.1:9/', addresses: edge.libp2p.getMultiaddrs().map(String), ipns: ipnsNameOf(edge.libp2p.peerId), capacity: CAPACITY, ...overrides }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
type Frame = (edge: Peer) => unknown | Promise<unknown>
/** What the server must answer: an error reply with that name, or (`closed`) a stream ended without one, or either. */
type Refusal = string | 'closed' | 'error-or-closed'

const CASES: Array<[string, Frame, Refusal]> = [
  ['bytes that are not JSON', () => bytes('{"type":'), 'InvalidControlMessageError'],
  ['an empty frame', () => new Uint8Array(0), 'error-or-closed'],
  ['JSON null', () => bytes('null'), 'InvalidControlMessageError'],
  ['a JSON array', edge => [register(edge)], 'InvalidControlMessageError'],
  ['an unknown type', edge => ({ ...register(edge), type: 'pin' }), 'InvalidControlMessageError'],
  ['a __proto__ type', edge => bytes(`{"__proto__":{"type":"register"},${JSON.stringify(register(edge)).slice(1).replace('"type":"register",', '')}`), 'InvalidControlMessageError'],
  ['a mode outside the enum', edge => register(edge, { mode: 'admin' }), 'InvalidControlMessageError'],
  ['a javascript: URL', edge => register(edge, { url: 'javascript:alert(1)' }), 'InvalidControlMessageError'],
  ['a file: URL', edge => register(edge, { url: 'file:///etc/passwd' }), 'InvalidControlMessageError'],
  ['a name with control characters and bidi', edge => register(edge, { name: 'edge\u0000\u202e' }), 'InvalidNodeNameError'],
  ['a name of 10,000 characters', edge => register(edge, { name: 'n'.repeat(10_000) }), 'InvalidNodeNameError'],
  ['an IPNS name of another peer', async edge => register(edge, { ipns: ipnsNameOf(peerIdFromPrivateKey(await generateKeyPair('Ed25519'))) }), 'IpnsMismatchError'],
  ['a claim to be another peer', async edge => register(edge, { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() }), 'error-or-closed'],
  ['100 addresses', edge => register(edge, { addresses: Array.from({ length: 100 }, (_, i) => `/ip4/127.0.0.1/tcp/${i + 1}`) }), 'InvalidControlMessageError'],
  ['a region of 10 kB', edge => register(edge, { region: 'r'.repeat(10_000) }), 'InvalidControlMessageError'],
  ['a region that is an object', edge => register(edge, { region: { toString: 'eu' } }), 'InvalidControlMessageError'],
  ['tags that are not strings', edge => register(edge, { tags: [1, null, { a: 1 }] }), 'InvalidControlMessageError'],
  ['10,000 tags', edge => register(edge, { tags: Array.from({ length: 10_000 }, (_, i) => `t${i}`) }), 'InvalidControlMessageError'],
  ['a capacity of 1e400', edge => bytes(JSON.stringify(register(edge)).replace(/"freeBytes":\d+/, '"freeBytes":1e400')), 'InvalidControlMessageError'],
  ['JSON nested 100,000 deep', () => bytes('['.repeat(100_000) + ']'.repeat(100_000)), 'error-or-closed'],
  ['a heartbeat before registering', () => ({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: [] }), 'NodeNotRegisteredError'],
  ['a heartbeat with pins that are paths', () => ({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: ['../../etc/passwd'] }), 'InvalidControlMessageError'],
  ['a heartbeat with an identity CID pinned', () => ({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: ['bafkqaaa'] }), 'error-or-closed'],
  ['a heartbeat with a served report of a media that is a path', () => ({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: [], served: [{ media: '../../etc/passwd', requests: 1, bytes: 0, local: 0, peer: 0, origin: 0, redirects: 0, viewers: 1, firstAt: 0, lastAt: 0 }] }), 'InvalidControlMessageError'],
  ['a heartbeat with 2^60 bytes served (past a safe integer)', () => ({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: [], served: [{ root: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', requests: 1, bytes: 2 ** 60, local: 2 ** 60, peer: 0, origin: 0, redirects: 0, viewers: 1, firstAt: 0, lastAt: 0 }] }), 'InvalidControlMessageError'],
  ['a control protocol version the server does not speak', edge => register(edge, { protocol: 2, version: '9.0.0' }), 'ControlVersionError'],
  ['a protocol version that is a string', edge => register(edge, { protocol: '2' }), 'InvalidControlMessageError'],
  ['a version of markup', edge => register(edge, { version: '<script>' }), 'InvalidControlMessageError'],
  ['a message of 300 KiB', edge => register(edge, { name: 'x'.repeat(300 * 1024) }), 'error-or-closed'],
  ['a message of 3 MiB', () => new Uint8Array(3 * 1024 * 1024).fill(0x20), 'error-or-closed']
]

for (const [what, frame, refusal] of CASES) {
  test.serial(`a control frame with ${what} is refused and changes nothing`, async t => {
    const { main, edge } = t.context
    const before = await t.context.snapshot()
    const reply = await exchange(edge, main, await frame(edge))
    if (refusal === 'closed') t.is(reply.type, 'closed', what)
    else if (refusal === 'error-or-closed') t.true(reply.type === 'error' || reply.type === 'closed', `${what}: ${JSON.stringify(reply)}`)
    else {
      t.is(reply.type, 'error', `${what}: ${JSON.stringify(reply)}`)
      t.is(reply.error, refusal, what)
    }
    assertNoInternals(t, JSON.stringify(reply), [main.dir], what)
    t.deepEqual(await main.server.registry.list(), [], `${what}: nothing registered`)
    t.deepEqual(await t.context.snapshot(), before, `${what}: something changed`)
  })
}

test.serial('after every hostile frame the server still answers HTTP and registers a good peer', async t => {
  const { main, edge } = t.context
  t.is((await fetch(`${main.server.url}/healthz`)).status, 200)
  const client = createControlClient({ libp2p: edge.libp2p, logger: silentLogger() }, { server: main.server.peer.libp2p.peerId, timeoutMs: 10_000 })
  const { type: _type, ...request } = register(edge, { name: 'good edge' })
  const reply = await client.register({ ...request, version: '0.1.0', protocol: 1 } as unknown as Parameters<typeof client.register>[0])
  t.is(reply.label, 'good-edge')
  t.like((await main.server.registry.list())[0], { label: 'good-edge', version: '0.1.0' })

  // a node newer than the server is told, in one line, which side to upgrade; so is the server's log
  const newer = await t.throwsAsync(client.register({ ...request, version: '9.0.0', protocol: 2 } as unknown as Parameters<typeof client.register>[0]))
  t.is(newer?.name, 'ControlVersionError')
  t.is(newer?.message, `the node (cidcast 9.0.0) speaks control protocol 2; this main server (cidcast ${CIDCAST_VERSION}) speaks 1: upgrade the main server`)
})
