import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { CONTROL_PROTOCOL, createControlClient, createRevocationGater, ipnsNameOf } from '../../../core/control/index.ts'
import { controlWire } from '../../../core/control/wire.ts'
import { createNodeRegistry } from '../../../core/replication/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPeer } from '../../../core/net/peer.ts'
import type { Catalog } from '../../../core/catalog/catalog.ts'
import type { ControlClient, NodeCapacity, NodeHealth, RegisterRequest, RevocationGater } from '../../../core/control/index.ts'
import type { NodeRegistry, NodeRegistryComponents, NodeRegistryInit } from '../../../core/replication/index.ts'
import type { NodeRepository } from '../../../core/catalog/node-repository.ts'
import type { Peer } from '../../../core/net/peer.ts'
import type { PrivateKey } from '@libp2p/interface'

/** Things to stop after a test, last first. */
export type Cleanup = Array<() => Promise<void>>

export interface Main {
  peer: Peer
  registry: NodeRegistry
  store: NodeRepository
  gater: RevocationGater
  catalog: Catalog
}

export interface EdgeNode {
  peer: Peer
  client: ControlClient
  /** A valid registration for this peer. */
  request: (name: string, overrides?: Partial<RegisterRequest>) => Omit<RegisterRequest, 'type'>
}

export const CAPACITY: NodeCapacity = { quotaBytes: 10 * 2 ** 30, usedBytes: 2 ** 30, freeBytes: 9 * 2 ** 30 }
export const HEALTH: NodeHealth = { uptimeSeconds: 5, load1: 0.25, activeStreams: 1, bytesServed: 1234, errors: 0, full: false }

/**
 * A main server's federation parts: catalog (SQLite file), gater, peer and registry, as node/server.ts wires them;
 * `registry.clock` drives the registry's time (the real one by default), `registry.orders` answers heartbeats with orders.
 */
export async function startMain (cleanup: Cleanup, swarmKey: Uint8Array, database: string, init: NodeRegistryInit = {}, registry: Pick<NodeRegistryComponents, 'clock' | 'orders'> = {}): Promise<Main> {
  const logger = silentLogger()
  const catalog = createCatalog({ logger }, { database })
  await catalog.start()
  cleanup.push(async () => { await catalog.stop() })
  const store = catalog.repositories.nodes
  const gater = createRevocationGater({ revoked: await store.revokedPeerIds() })
  const peer = await createPeer({ logger }, { swarmKey, connectionGater: gater })
  cleanup.push(async () => { await peer.stop() })
  const nodes = createNodeRegistry({ logger, libp2p: peer.libp2p, store, gater, ...registry }, { zone: 'test.internal', heartbeatMs: 300, ...init })
  await nodes.start()
  cleanup.push(async () => { await nodes.stop() })
  return { peer, registry: nodes, store, gater, catalog }
}

/** A CDN node's peer that knows the main server's addresses, with a control client. */
export async function startEdge (cleanup: Cleanup, swarmKey: Uint8Array, main: Main, privateKey?: PrivateKey): Promise<EdgeNode> {
  const logger = silentLogger()
  const peer = await createPeer({ logger }, { swarmKey, privateKey })
  cleanup.push(async () => { await peer.stop() })
  await peer.libp2p.peerStore.merge(main.peer.libp2p.peerId, { multiaddrs: main.peer.libp2p.getMultiaddrs() })
  const client = createControlClient({ libp2p: peer.libp2p, logger }, { server: main.peer.libp2p.peerId, timeoutMs: 5000 })
  return {
    peer,
    client,
    request: (name, overrides = {}) => ({
      name,
      mode: 'shared',
      url: 'http://127.0.0.1:9/',
      addresses: peer.libp2p.getMultiaddrs().map(String),
      ipns: ipnsNameOf(peer.libp2p.peerId),
      capacity: CAPACITY,
      ...overrides
    })
  }
}

/** Sends any JSON value (or raw bytes) as one control message and returns the parsed reply. */
export async function rawRequest (edge: EdgeNode, main: Main, message: unknown): Promise<any> {
  const stream = await edge.peer.libp2p.dialProtocol(main.peer.libp2p.peerId, CONTROL_PROTOCOL, { signal: AbortSignal.timeout(5000) })
  const signal = AbortSignal.timeout(5000)
  let reply: unknown
  if (message instanceof Uint8Array) {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    await lp.write(message, { signal })
    reply = await controlWire(lp.unwrap()).read({ signal })
  } else {
    const wire = controlWire(stream)
    await wire.write(message, { signal })
    reply = await wire.read({ signal })
  }
  await stream.close({ signal })
  return reply
}

export function swarmKey (): Uint8Array {
  return randomBytes(32)
}

/** Stops everything a test started, last first. */
export async function runCleanup (cleanup: Cleanup): Promise<void> {
  while (cleanup.length > 0) await cleanup.pop()?.().catch(() => {})
}
