import { readFile } from 'node:fs/promises'
import { loadavg, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { AUTO_PINS_FILE, createAutoPins, createCapacity, createDemandMeter, createPrefetchQueue, createEdgeCache, fullReason, createHeldMedia, localRemover, createMediaCache, createNodeAgent, createNodeContent, createNodeMetrics, createOriginClient, createPinner, providerLookup, SwarmKeyMissingError, unreachableOrigin } from '../core/edge/index.ts'
import { createNodeCredentialVerifier, createStreamTokenVerifier, credentialedPeers, NODE_CREDENTIAL_HEADER, openKeyRing, PUBLIC_KEYS_FILE } from '../core/access/index.ts'
import { createControlClient, handleOrderNudges, ipnsNameOf } from '../core/control/index.ts'
import { createBlockRepairer, createContentReader, createScrubber, integrityStatus, registerIntegrityMetrics, repairWhenDamaged, serveBlockStreams } from '../core/ipfs/index.ts'
import { createDaemonLogger } from '../core/logger.ts'
import { withPort } from '../core/listen.ts'
import { assertPrivateNetworkAllowed, createPeer, IDENTITY_FILE, lockDataFolder, verifiedBlocksOf } from '../core/net/index.ts'
import { tuneGarbageCollection } from '../core/gc-tuning.ts'
import { startIdleMemoryReducer } from '../core/memory-reducer.ts'
import { createNodeApp } from '../gateway/node-app.ts'
import { webUi } from './web-ui.ts'
import { loadNodeConfig, nodeListenSettings, readSwarmKey, rememberPicked, SWARM_KEY_FILE, writeSwarmKey } from '../core/config/index.ts'
import { createStopStack } from './stop-stack.ts'
import { listenHttp } from './http-listener.ts'
import type { NodeConfig, NodeDefaults } from '../core/config/index.ts'
import type { KeyRing } from '../core/access/index.ts'
import type { StreamAccessGrant } from '../core/control/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { AgentStatus, CapacityReport, EdgeCache, LocalPinOptions, NodeMetrics, Pinner, PinnerInit } from '../core/edge/index.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Peer } from '../core/net/index.ts'
import type { CID } from 'multiformats/cid'
import type { AddressInfo } from 'node:net'

export interface StartNodeOptions extends Partial<Omit<NodeConfig, 'data' | 'setBy' | 'picked' | 'tags'>> {
  /** The node's tags: a list, or a comma-separated string (`--tags a,b`). */
  tags?: string[] | string
  /** Data folder. @default ./.cidcast-node */
  dataDir?: string
  /** Listen addresses that replace the built-in defaults for this run (`npm start`: next to the main server). */
  defaults?: NodeDefaults
  /** A `swarm.key` file to copy into the data folder (needed on the first run). */
  swarmKeyFile?: string
  /** Environment to read `CIDCAST_*` and `LIBP2P_FORCE_PNET` from. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Registration retry backoff (tests make it short). @default 1000 and 30000 */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** Heartbeats, when the main server does not say. @default 15 */
  heartbeatSeconds?: number
  /** Free bytes kept back before the folder counts as full. @default 64 MiB */
  reserveBytes?: number
  /** Cached playlists younger than this are served without asking the main server. @default 60000 */
  playlistTtlMs?: number
  /** Called on every change of registration status (the CLI prints the DNS name with it). */
  onStatus?: (status: AgentStatus) => void
  /** Replication settings (fetch concurrency, stall timeout, retries); tests make them short. */
  pinner?: Omit<PinnerInit, 'dataLabel'>
  /** libp2p addresses registered with the main server (a port forward or proxy in front of this node); none: the listen addresses. */
  p2pAnnounce?: string[]
  /** The clock of the fallback cache (a file's age, its hits' decay); tests move it. @default the system clock */
  cacheClock?: Pick<Clock, 'now'>
}

/** A running CDN node. */
export interface RunningNode {
  /** Where its gateway answers, e.g. `http://127.0.0.1:8081`. */
  url: string
  peer: Peer
  /** Its DNS name once registered (`<label>.<zone>`), else undefined. */
  readonly dnsName: string | undefined
  name: string
  mode: NodeConfig['mode']
  /** The user name of its owner (`--owner`), if any. */
  owner: string | undefined
  /** Its region (`--region`), if any, and tags (`--tags`). */
  region: string | undefined
  tags: string[]
  /** The node's IPNS name (`k51...`). */
  ipns: string
  metrics: NodeMetrics
  /** Registration state as of now. */
  status: () => AgentStatus
  /** Resolves once the first attempt to register has succeeded or failed. */
  firstAttempt: () => Promise<AgentStatus>
  /** Pins a root (fetching it over bitswap), refusing with DataFolderFullError when the folder is full. */
  pin: (root: CID, options?: LocalPinOptions) => Promise<void>
  /** Carries out the main server's replication orders; also unpins and verifies (`cidcast pin verify`). */
  pinner: Pinner
  /** What fallback answers kept (budget, eviction). */
  cache: EdgeCache
  /** Resolves when no read-ahead is running. */
  readAheadSettled: () => Promise<void>
  /** Every route of its HTTP app, as the route table names them. */
  routes: () => string[]
  /** The main server's public stream keys (and its `publicMedia`), as last received, kept in `<data>/stream-public-keys.json`. */
  streamKeys: KeyRing
  /** Stops HTTP, the control agent and the peer, in reverse order of start. */
  stop: () => Promise<void>
}

/** At most this many pinned roots travel in a heartbeat (the control protocol's limit). */
const MAX_PINNED_REPORTED = 4096
/** The record of media held here (core/edge/held-media.ts), in the data folder. */
const HELD_MEDIA_FILE = 'held-media.json'

/** The swarm key: given as a file (copied into the data folder), else the one the data folder already has. */
async function nodeSwarmKey (data: string, file: string | undefined, env: NodeJS.ProcessEnv): Promise<Uint8Array> {
  const target = join(data, SWARM_KEY_FILE)
  if (file != null) {
    const key = await readSwarmKey(file)
    const text = await readFile(file, 'utf8')
    const existing = await readFile(target, 'utf8').catch(() => undefined)
    if (existing !== text) await writeSwarmKey(target, text, { overwrite: true })
    return key
  }
  try {
    return await readSwarmKey(target)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  assertPrivateNetworkAllowed(undefined, env)
  throw new SwarmKeyMissingError(`${data} has no swarm key yet: pass --swarm-key FILE (a copy of the main server's <data>/swarm.key) once`)
}

/** The URL viewers use: the configured one, else the listen address (a wildcard becomes this machine's first address). */
function gatewayUrl (config: NodeConfig, address: AddressInfo): string {
  if (config.url != null) return config.url
  let host = address.address
  if (host === '0.0.0.0' || host === '::') {
    const external = Object.values(networkInterfaces()).flat().find(i => i != null && !i.internal && i.family === 'IPv4')
    host = external?.address ?? '127.0.0.1'
  }
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

/** Starts a CDN node: peer, gateway, then registration with the main server (in the background, retried). */
export async function startNode (options: StartNodeOptions = {}): Promise<RunningNode> {
  tuneGarbageCollection()
  const { dataDir, swarmKeyFile, env = process.env, minBackoffMs, maxBackoffMs, heartbeatSeconds, reserveBytes, onStatus, playlistTtlMs, pinner: pinnerInit, defaults, p2pAnnounce, cacheClock, ...flags } = options
  const config = await loadNodeConfig({ ...flags, data: dataDir }, env, defaults)
  const logger = await createDaemonLogger({ level: config.logLevel, format: config.logFormat })
  const log = logger.child({ name: 'cidcast:node' })
  for (const warning of config.warnings) log.warn(warning)
  const stack = createStopStack(log)
  const { stop } = stack
  try {
    const swarmKey = await nodeSwarmKey(config.data, swarmKeyFile, env)
    stack.push(await lockDataFolder(config.data))

    const listen = nodeListenSettings(config)
    let p2pBound: string | undefined
    const peer = await createPeer({ logger }, { dataDir: config.data, swarmKey, listen: listen.p2pListen, announce: p2pAnnounce, onListen: addresses => { p2pBound = addresses[0] } })
    stack.push(async () => { await peer.stop() })
    const ipns = ipnsNameOf(peer.libp2p.peerId)

    // viewers' stream tokens are checked with the main server's public keys, kept on disk for when it is down
    const streamKeys = await openKeyRing({ logger }, { path: join(config.data, PUBLIC_KEYS_FILE) })
    const access = nodeAccess(streamKeys)
    const nodeCredentials = createNodeCredentialVerifier({ keys: streamKeys })

    const metrics = createNodeMetrics()
    const onRequest = (kind: string): void => { metrics.originRequests.inc({ kind }) }
    const origin = config.server.startsWith('/')
      ? unreachableOrigin(`the main server was given as a multiaddr (${config.server}); it has no HTTP URL to fall back to`)
      : createOriginClient({ onRequest, credential: access.credential }, { url: config.server })
    const capacity = createCapacity({ blocksDir: join(config.data, 'blocks'), dataDir: config.data, quotaBytes: config.quotaBytes, reserveBytes })
    // blocks read from disk are hashed against their CID once per process; a damaged one is removed, fetched again
    // from the peers in the background, and meanwhile served the way a miss is (the origin, verified)
    const blocks = verifiedBlocksOf(peer)
    const repairer = createBlockRepairer({ blockstore: peer.blockstore, logger })
    stack.push(async () => { repairer.stop() })
    const unwatch = repairWhenDamaged(blocks, repairer)
    stack.push(async () => { unwatch() })
    const scrub = createScrubber({ store: blocks, repairer, pins: peer.pins, getCodec: peer.getCodec, logger }, { bytesPerSecond: config.scrubBytesPerSecond, intervalMs: config.scrubIntervalSeconds * 1000 })
    registerIntegrityMetrics(metrics.registry, { store: blocks, repairer, scrub })
    // whole DAGs for other nodes' pins, from the blocks here only, to whom the gateway would give them
    const blockStreams = await serveBlockStreams({
      libp2p: peer.libp2p,
      logger,
      read: async cid => await blocks.read(cid),
      getCodec: peer.getCodec,
      refuse: credentialedPeers({ nodes: nodeCredentials, publicMedia: () => streamKeys.publicMedia() })
    })
    stack.push(blockStreams.stop)
    const reader = createContentReader({ blockstore: peer.blockstore, logger }, { cacheBytes: config.memoryCacheBytes })
    const cache = createMediaCache({ logger }, { dir: join(config.data, 'media-cache') })
    stack.push(async () => { await cache.flush() })
    // roots the main server's distributor placed here: they hold part of the cache budget
    const autoPins = createAutoPins({ logger }, { path: join(config.data, AUTO_PINS_FILE) })
    await autoPins.start()
    // what fallback answers keep, within a budget (less the automatic pins): the lowest-value files give their room back
    const edgeCache = createEdgeCache({
      datastore: peer.datastore,
      pins: peer.pins,
      remove: localRemover(peer.blockstore, peer.pins),
      capacity,
      media: cache,
      logger,
      clock: cacheClock,
      metrics: metrics.cache,
      reserved: () => autoPins.bytes()
    }, { budgetBytes: config.cacheBytes, minLifetimeMs: config.cacheMinLifetimeSeconds * 1000 })
    await edgeCache.start()
    stack.push(async () => { await edgeCache.stop() })
    metrics.observeCache(() => edgeCache.figures())
    const content = createNodeContent({ reader, blockstore: peer.blockstore, capacity, logger, cache: edgeCache })
    /** The capacity heartbeats and `/healthz` report: the data folder's, with the cache's budget and use. */
    const nodeCapacity = async (): Promise<CapacityReport> => {
      const space = await capacity.measure()
      return { ...space, ...edgeCache.figures(space) }
    }
    // id -> media directory and rendition roots of what is pinned here: playback without the main server
    const held = createHeldMedia({ logger, reader: content.network, isPinned: async cid => await peer.pins.isPinned(cid) }, { path: join(config.data, HELD_MEDIA_FILE) })
    await held.start()
    // what the gateway serves, per rendition root (held, or learned from the origin), for the main server's demand scores
    const served = createDemandMeter({
      logger,
      registry: metrics.registry,
      rootOf: async (media, profile) => held.rendition(media, profile)?.toString() ?? (await cache.roots(media))?.roots[profile] ?? undefined
    })

    const started = Date.now()
    const pinned = async (): Promise<string[]> => {
      const roots: string[] = []
      for await (const pin of peer.pins.ls()) {
        // the IPNS manifest is pinned too, but it is the node's own, not content it serves
        if (pin.metadata?.cidcast === 'manifest') continue
        roots.push(pin.cid.toString())
        if (roots.length >= MAX_PINNED_REPORTED) break
      }
      return roots
    }
    const health = (): { uptimeSeconds: number, load1: number, activeStreams: number, bytesServed: number, errors: number } => ({
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      load1: loadavg()[0],
      ...metrics.totals()
    })

    // the publisher and the agent come later (they need the gateway's URL); until then there is nobody to tell
    let beat = (): void => {}
    let republish = (): void => {}
    const pinner = createPinner({
      peer,
      capacity,
      logger,
      integrity: { store: blocks, repairer },
      findProviders: config.server.startsWith('/') ? undefined : providerLookup(config.server),
      // a started, finished or failed order goes out at once; progress goes with the busy heartbeats
      onChange: () => { beat() },
      onPinsChanged: () => { republish() },
      origin: () => {
        const peerId = agentStatus()?.serverPeerId
        return peerId == null || config.server.startsWith('/') ? undefined : { peerId, url: origin.url }
      },
      credential: access.credential,
      media: held,
      auto: autoPins
    }, { gateways: config.pinFrom !== 'p2p', ...pinnerInit, dataLabel: `the data folder ${config.data}` })

    let agentStatus = (): AgentStatus | undefined => undefined
    const app = createNodeApp({
      logger,
      content,
      cache,
      held,
      origin,
      metrics,
      served,
      pinner,
      ui: webUi(),
      access: {
        verifier: createStreamTokenVerifier({ keys: streamKeys }),
        nodes: nodeCredentials,
        publicMedia: () => streamKeys.publicMedia(),
        // the owner's id as the main server last sent it (kept on disk): enforced while the main server is down too
        onlyUser: config.mode === 'local' ? () => streamKeys.owner() ?? null : undefined
      },
      kept: edgeCache,
      // read-ahead never evicts young content nor fills a full disk
      room: async () => !(await capacity.measure()).full && await edgeCache.admit(0),
      health: async () => {
        const space = await nodeCapacity()
        const reasons = space.full ? [fullReason(config.data, space)] : []
        return { reasons, name: config.name, mode: config.mode, owner: config.owner ?? null, region: config.region ?? null, tags: config.tags, peerId: peer.libp2p.peerId.toString(), ipns, server: config.server, fallback: config.fallback, registration: agentStatus(), capacity: space, health: { ...health(), full: space.full }, integrity: integrityStatus({ store: blocks, repairer, scrub }) }
      }
    }, { fallback: config.fallback, playlistTtlMs, readAheadSegments: config.readAheadSegments })
    const http = await listenHttp(app, listen.listen, log)
    stack.push(http.close)
    const url = gatewayUrl(config, http.address)
    await rememberPicked(config, { listen: withPort(config.listen, http.address.port), p2pListen: p2pBound })

    const publish = await startPublisher(peer, config, logger, url, capacity, pinned)
    if (publish != null) stack.push(publish.stop)

    republish = () => { publish?.update() }
    // started before the agent: orders saved by an earlier run resume at once, whether or not the server answers
    await pinner.start()
    stack.push(async () => { await pinner.stop() })
    scrub.start()
    stack.push(scrub.stop)

    const prefetch = createPrefetchQueue({ resolver: app.resolver, logger })
    stack.push(async () => { prefetch.stop(); await prefetch.settled() })
    const agent = createNodeAgent({
      libp2p: peer.libp2p,
      logger,
      origin: config.server.startsWith('/') ? undefined : origin,
      control: server => createControlClient({ libp2p: peer.libp2p, logger }, { server }),
      capacity: nodeCapacity,
      health,
      pinned,
      pins: () => pinner.reports(),
      served,
      onOrders: orders => { pinner.apply(orders) },
      onPrefetch: orders => { prefetch.add(orders) },
      busy: () => pinner.busy(),
      onAccess: access.take,
      // the origin (misses, the API proxy, IPNS) follows the node to the main server it registered with
      onServer: server => { origin.moveTo(server.url) },
      onChange: status => {
        // each registration and each heartbeat shows the publisher the live figures; it publishes only what readers
        // care about (see CAPACITY_CHANGE_SHARE), so an idle node keeps its sequence
        if (status.state === 'registered') publish?.update()
        onStatus?.(status)
      }
    }, {
      server: config.server,
      name: config.name,
      mode: config.mode,
      owner: config.owner,
      region: config.region,
      tags: config.tags,
      url,
      ipns,
      serverCacheFile: join(config.data, 'server.json'),
      minBackoffMs,
      maxBackoffMs,
      heartbeatSeconds
    })
    beat = () => { agent.beat() }
    agent.start()
    agentStatus = () => agent.status()
    stack.push(async () => { await agent.stop() })
    // the main server asks for a heartbeat at once when it has orders: the one this node registered with, or another
    // of its catalog (the leader, which keeps the orders, when this node registered with one that relays)
    const fromServer = (from: PeerId): boolean => {
      const status = agent.status()
      const id = from.toString()
      return status.serverPeerId === id || status.servers.some(server => server.peerId === id)
    }
    stack.push(await handleOrderNudges({ libp2p: peer.libp2p, logger, fromServer, onNudge: () => { agent.beat() } }))
    log.info({ url, peerId: peer.libp2p.peerId.toString(), ipns, data: config.data, mode: config.mode, owner: config.owner, region: config.region, tags: config.tags, server: config.server }, 'CDN node ready')
    // a node idles most of its life: what a burst of work (start-up, a crowd of viewers) grew V8's heap to is given back
    const reducer = startIdleMemoryReducer()
    stack.push(async () => { reducer.stop() })

    return {
      url,
      peer,
      get dnsName () { return agent.status().dnsName },
      name: config.name,
      mode: config.mode,
      owner: config.owner,
      region: config.region,
      tags: config.tags,
      ipns,
      metrics,
      status: () => agent.status(),
      firstAttempt: async () => await agent.firstAttempt(),
      pin: async (root, pinOptions = {}) => {
        await pinner.pin(root, pinOptions)
        agent.beat()
      },
      pinner,
      cache: edgeCache,
      readAheadSettled: async () => { await app.resolver.settled() },
      routes: app.routes,
      streamKeys,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The node's end of stream access: the keys the main server sends go to the key ring, its credential is kept for requests. */
function nodeAccess (keys: KeyRing): { take: (grant: StreamAccessGrant) => Promise<void>, credential: () => Record<string, string> | undefined } {
  let credential: Record<string, string> | undefined
  return {
    async take (grant) {
      // the last one is sent as it is: whoever serves judges its expiry, with the clock skew allowed
      if (grant.credential != null) credential = { [NODE_CREDENTIAL_HEADER]: grant.credential.token }
      await keys.replace(grant.keys, { publicMedia: grant.publicMedia, owner: grant.owner })
    },
    credential: () => credential
  }
}

/** The node's IPNS publisher, when the main server has an HTTP URL; `update()` republishes the manifest if it changed. */
async function startPublisher (peer: Peer, config: NodeConfig, logger: Logger, url: string, capacity: ReturnType<typeof createCapacity>, pinned: () => Promise<string[]>): Promise<{ update: () => void, stop: () => Promise<void> } | undefined> {
  if (config.server.startsWith('/')) return undefined
  const log = logger.child({ name: 'cidcast:node' })
  // loaded only when used: the routing client and its dependencies weigh on a node's start
  const { createIpnsPublisher } = await import('../core/routing/index.ts')
  const privateKey = privateKeyFromProtobuf(await readFile(join(config.data, IDENTITY_FILE)))
  // a quota the owner set is news whenever it changes; the default one moves with the disk's free space
  const publisher = createIpnsPublisher({ logger, peer, privateKey }, { routingUrl: config.server, fixedQuota: config.quotaBytes != null })
  let started: Promise<void> | undefined
  let running = Promise.resolve()
  return {
    update () {
      running = running.then(async () => {
        // a failed start (the server unreachable) is tried again on the next update
        started ??= Promise.resolve(publisher.start()).catch((err: unknown) => { started = undefined; throw err })
        await started
        const { full, ...space } = await capacity.measure()
        void full
        await publisher.update({ name: config.name, mode: config.mode, url, capacity: space, pinned: await pinned() })
      }).catch(err => { log.warn({ err }, 'IPNS publish failed; the publisher retries by itself') })
    },
    async stop () {
      await running
      if (started != null) await started.then(async () => { await publisher.stop() }, () => {})
    }
  }
}
