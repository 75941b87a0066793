import { createHash } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { createAccounts, createInvitations, createLoginLimiter, credentialedPeers } from '../core/access/index.ts'
import { createCatalog, registerCatalogMetrics } from '../core/catalog/index.ts'
import { loadMetadataConfig, loadServerConfig } from '../core/config/index.ts'
import { createDiskSpace } from '../core/disk-space.ts'
import { createDnsServer } from '../core/dns/index.ts'
import { createContentIndex, createNodeRegistry, createReplication, createReplicationGoals, registerReplicationMetrics } from '../core/replication/index.ts'
import { createStreamUrls } from '../core/access/index.ts'
import { createControlServer, createRevocationGater, findNode, relayDemand, relayToLeader, serveControlRelay, serveDemandRelay } from '../core/control/index.ts'
import { createCluster } from '../core/cluster/index.ts'
import { CIDCAST_VERSION } from '../core/version.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createDistributor, registerDistributionMetrics } from '../core/distribution/index.ts'
import { createBlockRepairer, createContentReader, createScrubber, integrityStatus, registerIntegrityMetrics, repairWhenDamaged, serveBlockStreams, verifyPins } from '../core/ipfs/index.ts'
import { createMetadata } from '../core/metadata/index.ts'
import { createDaemonLogger } from '../core/logger.ts'
import { createLibrary, createPosterFrames, createSegmentStore, createTranscoder, ENCODER_SETTINGS, findChildLauncher, resolveFfmpeg } from '../core/media/index.ts'
import { createMetrics } from '../core/metrics.ts'
import { createPeer, lockDataFolder, verifiedBlocksOf } from '../core/net/index.ts'
import { acceptNodeNames, createIpnsRecordStore, peersFromNodes, withPeerRecords } from '../core/routing/index.ts'
import { tuneGarbageCollection } from '../core/gc-tuning.ts'
import { systemClock } from '../core/clock.ts'
import { createHttpApp } from '../gateway/app.ts'
import { webUi } from './web-ui.ts'
import { ensureDataFolder } from './init.ts'
import { watchLibrary } from './library-watcher.ts'
import { createStopStack } from './stop-stack.ts'
import { listenHttp } from './http-listener.ts'
import type { Accounts, AccountsInit, User } from '../core/access/index.ts'
import type { CatalogInit } from '../core/catalog/index.ts'
import { openServerStreamAccess, rotateStreamKeys } from './stream-access.ts'
import type { SigningKeyRing, StreamUrls } from '../core/access/index.ts'
import type { RotatedKeys } from './stream-access.ts'
import type { ServerConfig } from '../core/config/index.ts'
import type { Distributor } from '../core/distribution/index.ts'
import type { ServedReport } from '../core/control/index.ts'
import type { DnsServer } from '../core/dns/index.ts'
import type { NodeRegistry, Replication } from '../core/replication/index.ts'
import type { Library, MediaView, Transcoder } from '../core/media/index.ts'
import type { MetadataConfig } from '../core/metadata/index.ts'
import type { MetadataService } from '../core/metadata/index.ts'
import type { Metrics } from '../core/metrics.ts'
import type { Peer } from '../core/net/index.ts'
import type { IpnsRecordStore } from '../core/routing/index.ts'
import type { ServerInfo } from '../gateway/routes/nodes.ts'
import { CID } from 'multiformats/cid'
import type { Cluster } from '../core/cluster/index.ts'
import type { DemandEvent, MainServerAddress } from '../core/control/index.ts'

/** How long a request waits for a good copy of a block found damaged here before it fails as a missing block. */
const REQUEST_REPAIR_MS = 8000
/** After a repair found no copy, requests fail at once for this long (the scrub and `pin verify` still try). */
const REQUEST_REPAIR_BACKOFF_MS = 60_000

export interface StartServerOptions extends Partial<Omit<ServerConfig, 'data' | 'setBy'>> {
  /** Data folder. @default ./.cidcast */
  dataDir?: string
  /** Metadata settings over those of the environment and config.json (tests point the providers at a stub). */
  metadata?: Partial<MetadataConfig>
  /** Accounts settings (tests lower scrypt's cost). */
  accounts?: AccountsInit
  /** Catalog settings (tests shorten how long a call waits for a locked database). */
  catalog?: Pick<CatalogInit, 'busyWaitMs'>
  /** Free bytes of the data folder's disk below which `/healthz` says `degraded`. @default 64 MiB */
  reserveBytes?: number
  /** libp2p addresses nodes are told to dial (a port forward or proxy in front of this server); none: the listen addresses. */
  p2pAnnounce?: string[]
  /** Also hears every node's validated served reports (tests watch the demand signals with it). */
  onServed?: (peerId: string, reports: ServedReport[], at: number) => void
  /** Time between the cluster's beats and leadership checks (several main servers on one catalog). @default 2000 */
  clusterBeatMs?: number
}

/** A running main server. */
export interface RunningServer {
  /** `http://HOST:PORT` where it answers. */
  url: string
  peer: Peer
  library: Library
  transcoder: Transcoder
  metadata: MetadataService
  metrics: Metrics
  /** The zone's DNS server (`dns.address().port` is the bound UDP/TCP port). */
  dns: DnsServer
  /** The CDN nodes registered over the control protocol. */
  registry: NodeRegistry
  /** The content index and pin orders to nodes. */
  replication: Replication
  /** Automatic distribution: demand, automatic pins and evictions, pre-caching. */
  distributor: Distributor
  /** The IPNS records nodes publish through `PUT /routing/v1/ipns/{name}`. */
  ipns: IpnsRecordStore
  /** Users, sessions and API tokens. */
  accounts: Accounts
  /** Every route of its HTTP app, as the route table names them. */
  routes: () => string[]
  /** The first admin and their password, when this start made them (shown once, never logged). */
  firstAdmin?: { user: User, password: string }
  /** Adds a file to the library (as `POST /api/v1/media` does). */
  addMedia: (path: string) => Promise<MediaView>
  /** The stream signing keys (`<data>/stream-keys.json`); their public halves go to every node. */
  streamKeys: SigningKeyRing
  /** Signed play URLs: a token for (user, media) and the master playlist URL on a node, or on this server. */
  streamUrls: StreamUrls
  /** Rotates the stream signing key (old tokens verify until they expire) and nudges the nodes to fetch the new one. */
  rotateStreamKeys: () => Promise<RotatedKeys>
  /** The main servers sharing this catalog, and which one leads (this one alone on SQLite). */
  cluster: Cluster
  /** Stops HTTP, ffmpeg, the catalog and the peer, in reverse order of start. */
  stop: () => Promise<void>
}

/** Starts the main server: peer, catalog, transcoder, HTTP and DNS, in that order. */
export async function startServer (options: StartServerOptions = {}): Promise<RunningServer> {
  tuneGarbageCollection()
  const { dataDir, metadata: metadataSettings, accounts: accountsInit, catalog: catalogSettings, reserveBytes, p2pAnnounce, onServed, clusterBeatMs, ...flags } = options
  const config = await loadServerConfig({ ...flags, data: dataDir })
  const logger = await createDaemonLogger({ level: config.logLevel, format: config.logFormat })
  const log = logger.child({ name: 'cidcast:server' })
  for (const warning of config.warnings) log.warn(warning)
  const stack = createStopStack(log)
  const { stop } = stack
  try {
    const { swarmKey } = await ensureDataFolder(config.data)
    stack.push(await lockDataFolder(config.data))

    const ffmpeg = await resolveFfmpeg()
    log.info({ ffmpeg: ffmpeg.ffmpeg, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found')
    const launcher = await findChildLauncher()
    if (!launcher.tied) log.warn('no setpriv with --pdeathsig (util-linux >= 2.33 on Linux): ffmpeg runs may outlive a server that is killed')

    // the catalog opens before the peer: revoked peer IDs must be refused from the first connection on
    const catalog = createCatalog({ logger: logger.child({ name: 'cidcast:catalog' }) }, { database: config.database, ...catalogSettings })
    await catalog.start()
    stack.push(async () => { await catalog.stop() })
    const nodeStore = catalog.repositories.nodes
    const accounts = createAccounts({ repository: catalog.repositories.access, logger }, accountsInit)
    const firstAdmin = await accounts.ensureFirstAdmin()
    await accounts.sweep()
    const gater = createRevocationGater({ revoked: await nodeStore.revokedPeerIds() })

    const p2pListen = config.p2pListen.map(address => ({ key: 'p2pListen', address, setBy: config.setBy.p2pListen }))
    const peer = await createPeer({ logger }, { dataDir: config.data, swarmKey, listen: p2pListen, connectionGater: gater, announce: p2pAnnounce })
    stack.push(async () => { await peer.stop() })

    // every control reply carries the stream keys, so they exist before the first node registers
    // several main servers on one PostgreSQL catalog share their signing keys there, so each verifies the others' tokens
    const shared = catalog.dialect === 'postgres'
    const access = await openServerStreamAccess({ logger }, { dataDir: config.data, publicMedia: config.publicMedia, shared: shared ? catalog.repositories.streamKeys : undefined })
    // heartbeats carry pin reports and get orders back once replication exists (it needs the library, made below)
    const late: { replication?: Replication, distributor?: Distributor } = {}
    // a node's `--owner` is a user name, resolved by name alone (a name that looks like an id is still a name)
    const userIdOf = async (name: string): Promise<string | undefined> => (await catalog.repositories.access.userByName(name))?.id
    // what nodes served, per rendition root, validated and clamped by the registry (issue #13, demand signals)
    const served = (peerId: string, reports: ServedReport[], at: number): void => {
      late.distributor?.served(peerId, reports)
      onServed?.(peerId, reports, at)
    }
    // every live main server of the catalog, told to nodes in each control reply (filled once the cluster beats)
    let mainServers = (): MainServerAddress[] => []
    const registry = createNodeRegistry({ logger, libp2p: peer.libp2p, store: nodeStore, gater, orders: async (p, r) => await late.replication?.heartbeat(p, r) ?? [], prefetch: p => late.distributor?.takePrefetch(p) ?? [], access: access.grant, userIdOf, served, servers: () => mainServers() }, { zone: config.dnsZone, heartbeatMs: config.heartbeatSeconds * 1000 })
    // the registry takes nodes' control streams only where it leads; until then (and on the others) it follows the catalog
    await registry.follow()
    stack.push(async () => { await registry.stop() })

    let sessionCount = (): number => 0
    const metrics = createMetrics({ runningSessions: () => sessionCount() })
    registerCatalogMetrics(metrics.registry, catalog)
    const fs = unixfs(peer)
    const frames = createPosterFrames({ ffmpeg: ffmpeg.ffmpeg, launcher, onTaken: () => { metrics.posterFrames.inc() } })
    const metadata = createMetadata({ logger, catalog, unixfs: fs, pins: peer.pins, frames }, { ...await loadMetadataConfig(config.data), ...metadataSettings })
    stack.push(async () => { await metadata.stop() })
    const library = createLibrary({
      logger: logger.child({ name: 'cidcast:library' }),
      catalog,
      unixfs: fs,
      blockstore: peer.blockstore,
      pins: peer.pins,
      ffprobe: ffmpeg.ffprobe,
      launcher,
      fingerprint: `${ffmpeg.encoderFingerprint};${ENCODER_SETTINGS}`,
      metadata
    })
    // the block reader is made further down; segments are stored only once the server runs
    let madeHere = (_cid: CID, _bytes: Buffer): void => {}
    const segments = createSegmentStore({
      unixfs: fs,
      made: (cid, bytes) => { madeHere(cid, bytes) },
      index: {
        getSegment: async (key, index) => await catalog.getSegment(key, index),
        putSegment: async (key, index, cid, bytes) => { await catalog.putSegment(key, index, cid, bytes) },
        getInit: async key => (await catalog.getRendition(key))?.initCid ?? undefined,
        setInit: async (key, cid) => { await catalog.setInit(key, cid) },
        forgetCid: async cid => await catalog.repositories.lostSegments.forget(cid)
      }
    })
    const disk = createDiskSpace({ dir: config.data, reserveBytes })
    const workDir = join(config.data, 'transcode')
    // leftovers of a crash are never resumed: segments are only trusted once imported
    await rm(workDir, { recursive: true, force: true })
    await mkdir(workDir, { recursive: true })
    const transcoder = createTranscoder({
      logger: logger.child({ name: 'cidcast:transcoder' }),
      ffmpeg: { path: ffmpeg.ffmpeg, major: ffmpeg.major },
      launcher,
      segments,
      workDir,
      // a rendition is finished (its directory written and pinned) only over blocks this server has or can fetch: the
      // segments another server made and died with are forgotten first, to be made again
      onComplete: async job => { if (await forgetUnreachable(job.key) === 0) await library.finish(job) },
      onSessionStart: () => { metrics.ffmpegSessionsStarted.inc() },
      onDiskFull: err => { disk.failed(err) },
      // several main servers may share a PostgreSQL catalog: a lease keeps them from running ffmpeg for the same
      // segments twice; a SQLite file has one server (its data folder's lock), which needs none
      leases: shared ? { store: catalog.repositories.transcodeLeases, owner: peer.libp2p.peerId.toString() } : undefined
    }, { maxSessions: config.maxSessions })
    await transcoder.start()
    sessionCount = () => transcoder.sessions().length
    stack.push(async () => { await transcoder.stop() })

    let unreachableSegments = async (_key: string): Promise<CID[]> => []
    /** Forgets the segments of a rendition nobody can serve any more (they are made again); how many. */
    const forgetUnreachable = async (key: string): Promise<number> => {
      const lost = await unreachableSegments(key)
      if (lost.length === 0) return 0
      log.warn({ rendition: key, segments: lost.length }, 'segments another main server made cannot be fetched: making them again')
      for (const cid of lost) await segments.forget(cid)
      return lost.length
    }
    const contentIndex = createContentIndex({ repository: catalog.repositories.contentIndex })
    registerReplicationMetrics(metrics.registry, contentIndex)
    const replication = createReplication({
      logger,
      index: contentIndex,
      goals: createReplicationGoals({ repository: catalog.repositories.goals }),
      preparations: catalog.repositories.preparations,
      nodes: registry,
      libp2p: peer.libp2p,
      blockstore: peer.blockstore,
      media: async id => await library.get(id),
      renditionOf: async cid => await catalog.repositories.renditionRoots.renditionOf(cid),
      // a rendition asked for before it is finished is made whole first (finish is idempotent: it answers the root)
      prepare: async (id, profile, { signal }) => {
        const job = await library.job(id, profile)
        // a segment another main server made is recorded in the shared catalog, its blocks on that server: one that
        // died with them is made again here, so the rendition is whole before it is finished and pinned
        for (let round = 1; ; round++) {
          await transcoder.complete(job, { signal })
          // the init segment too (complete() makes the numbered ones): it may have been one of those forgotten
          await transcoder.init(job, { signal })
          if (await forgetUnreachable(job.key) > 0 && round < 4) continue
          try {
            return (await library.finish(job)).toString()
          } catch (err) {
            // forgotten while finishing (the transcoder's own finish found them): make them and try again
            const name = (err as Error).name
            if ((name !== 'IncompleteRenditionError' && name !== 'InvalidMediaError') || round >= 4) throw err
          }
        }
      }
    }, { heartbeatMs: config.heartbeatSeconds * 1000, repinAfterMs: config.repinAfterSeconds * 1000 })
    late.replication = replication
    stack.push(async () => { await replication.stop() })

    // automatic distribution (issue 13): demand -> automatic pins and evictions, and the next episode pre-cached
    const distributor = createDistributor({
      logger,
      nodes: async () => await registry.list(),
      rows: () => contentIndex.list(),
      media: async id => await library.get(id).catch(err => { if ((err as Error).name === 'MediaNotFoundError') return undefined; throw err }),
      size: async cid => (await replication.size(cid))?.bytes,
      pin: async ({ cid, node }) => { await replication.pin({ cid, node, auto: true }) },
      unpin: async ({ cid, node }) => { await replication.unpin({ cid, node, auto: true }) },
      next: async id => { const found = await metadata.next(id); return found == null ? undefined : { id: found.id, kind: found.kind } },
      nudge: peerId => { void replication.nudge([peerId]) },
      lostAfterMs: config.repinAfterSeconds * 1000
    }, config.distribution)
    late.distributor = distributor
    const labels = new Map<string, string>()
    registry.on('change', () => {
      // only the leader's distributor acts (a follower's registry changes as it follows the catalog)
      if (cluster.isLeader()) distributor.networkChanged()
      void registry.list().then(nodes => { for (const n of nodes) labels.set(n.peerId, n.label) })
    })
    registerDistributionMetrics(metrics.registry, distributor, peerId => labels.get(peerId))
    stack.push(async () => { await distributor.stop() })

    // blocks read from disk are hashed against their CID once per process; a damaged one is removed and fetched
    // again from the nodes that hold it (bitswap asks every connected node), in the background as soon as it is
    // found, and a request that needs it waits a little for that copy rather than failing at once
    const blocks = verifiedBlocksOf(peer)
    const repairer = createBlockRepairer({ blockstore: peer.blockstore, logger })
    stack.push(async () => { repairer.stop() })
    const unwatch = repairWhenDamaged(blocks, repairer)
    stack.push(async () => { unwatch() })
    // renditions for nodes' pins as whole DAGs, from the blocks here only, to the nodes its gateway serves
    const blockStreams = await serveBlockStreams({
      libp2p: peer.libp2p,
      logger,
      read: async cid => await blocks.read(cid),
      getCodec: peer.getCodec,
      refuse: credentialedPeers({ nodes: access.nodeCredentials, publicMedia: () => config.publicMedia })
    })
    stack.push(blockStreams.stop)
    const repairForRequest = async (cid: CID): Promise<Buffer | undefined> => await repairer.repair(cid, { signal: AbortSignal.timeout(REQUEST_REPAIR_MS), recentFailureMs: REQUEST_REPAIR_BACKOFF_MS }).catch(() => undefined)
    // a block another main server of the catalog made (a segment recorded in the shared catalog) comes from its peer
    let others = (): number => 0
    const fetchMissing = async (cid: CID): Promise<Buffer | undefined> => others() === 0
      ? undefined
      : await repairer.repair(cid, { signal: AbortSignal.timeout(REQUEST_REPAIR_MS), recentFailureMs: REQUEST_REPAIR_BACKOFF_MS }).catch(err => { log.debug({ err, cid: cid.toString() }, 'no other main server sent a block missing here'); return undefined })
    const reader = createContentReader({ blockstore: peer.blockstore, logger, repair: repairForRequest, fetchMissing }, { cacheBytes: config.cacheBytes })
    madeHere = (cid, bytes) => { reader.blocks.add(cid, bytes) }
    // the segments of a rendition whose blocks are neither here nor to be had from another main server in time
    if (shared) {
      unreachableSegments = async (key: string): Promise<CID[]> => {
        const cids = (await catalog.listSegments(key)).map(segment => CID.parse(segment.cid))
        const init = (await catalog.getRendition(key))?.initCid
        if (init != null) cids.push(CID.parse(init))
        const held = await Promise.all(cids.map(async cid => {
          try {
            const entry = await reader.stat(cid)
            for await (const slice of reader.slices(entry, 0, entry.size)) if (!slice.inline && !await reader.blocks.ready(slice.cid)) return false
            return true
          } catch (err) {
            if ((err as Error).name === 'ContentNotFoundError') return false
            throw err
          }
        }))
        return cids.filter((_, i) => !held[i])
      }
    }
    // a segment whose block no node could give back is made again when asked for; its rendition is not complete meanwhile
    const segmentLost = async (cid: CID): Promise<void> => {
      const renditions = await segments.forget(cid)
      if (renditions.length > 0) log.warn({ cid: cid.toString(), renditions }, 'a segment lost for good is forgotten: it is made again on demand, and its rendition is not complete until then')
    }
    const scrub = createScrubber({ store: blocks, repairer, pins: peer.pins, getCodec: peer.getCodec, logger, onLost: segmentLost }, { bytesPerSecond: config.scrubBytesPerSecond, intervalMs: config.scrubIntervalSeconds * 1000 })
    registerIntegrityMetrics(metrics.registry, { store: blocks, repairer, scrub })
    let dnsListen: string | null = null
    // the cluster: this server's beat in the catalog, and the leadership lock (always this server's on SQLite); the
    // swarm key's fingerprint tells a server whose private network is not the others' (it could reach none of them)
    const swarmId = createHash('sha256').update(swarmKey).digest('hex').slice(0, 16)
    let url = ''
    const cluster = createCluster({
      logger,
      servers: catalog.repositories.servers,
      lock: catalog.leaderLock(),
      self: () => ({ peerId: peer.libp2p.peerId.toString(), url: config.url ?? url, addresses: peer.libp2p.getMultiaddrs().map(String), dns: dnsListen, version: CIDCAST_VERSION, swarm: swarmId })
    }, { beatMs: clusterBeatMs })
    const serverInfo = (): ServerInfo => ({
      peerId: peer.libp2p.peerId.toString(),
      addresses: peer.libp2p.getMultiaddrs().map(String),
      zone: config.dnsZone,
      dnsListen,
      leader: cluster.isLeader(),
      servers: cluster.members().map(member => ({ peerId: member.peerId, url: member.url, addresses: member.addresses, leader: member.leadingSinceMs != null }))
    })
    // Delegated Routing V1: IPNS records of registered nodes only; peers from the registry; providers from the content index
    // a record a node put on another main server of the catalog is asked of it (and kept here once it validates)
    const ipns = withPeerRecords(createIpnsRecordStore({ datastore: peer.datastore, logger }, { acceptName: acceptNodeNames(async () => await registry.list()) }), {
      logger,
      others: () => cluster.members().filter(member => !member.self).map(member => member.url)
    })
    const routing = {
      records: ipns,
      providers: replication.providers,
      peers: peersFromNodes(async () => await registry.list(), () => ({ peerId: peer.libp2p.peerId.toString(), addrs: peer.libp2p.getMultiaddrs().map(String), protocols: ['transport-bitswap'] }))
    }
    const limiter = createLoginLimiter()
    const accessSettings = { viewerReplication: config.viewerReplication }
    // play URLs without a node point at this server's own URL, known once HTTP listens
    const signedUrls = createStreamUrls({
      signer: access.signer,
      keys: access.keys,
      media: async id => await library.get(id),
      nodes: async () => await registry.list(),
      serverUrl: () => config.url ?? url,
      // the user id the node registered with (`--owner`): a local node's play URLs are for them alone
      ownerOf: node => node.ownerId ?? undefined
    }, { defaultTtlSeconds: config.playUrlSeconds })
    // a play URL asked is a viewer starting a media through that node (or here): the distributor's demand
    // demand heard here goes to the leader's distributor: this one's when it leads, else passed on (best effort)
    const leaderPeer = (): ReturnType<typeof peerIdFromString> | undefined => {
      const id = cluster.leader()?.peerId
      return id == null || id === peer.libp2p.peerId.toString() ? undefined : peerIdFromString(id)
    }
    const toLeader = (event: DemandEvent): void => {
      const leader = leaderPeer()
      if (leader != null) void relayDemand(peer.libp2p, leader, event)
    }
    const demand = {
      play (viewer: string, mediaId: string, node: string | null): void {
        if (cluster.isLeader()) distributor.play(viewer, mediaId, node)
        else toLeader({ type: 'play', viewer, mediaId, node })
      },
      async progress (viewer: string, mediaId: string, positionSeconds: number, durationSeconds: number): Promise<void> {
        if (cluster.isLeader()) await distributor.progress(viewer, mediaId, positionSeconds, durationSeconds)
        else toLeader({ type: 'progress', viewer, mediaId, positionSeconds, durationSeconds })
      }
    }
    const streamUrls: StreamUrls = {
      maxTtlSeconds: signedUrls.maxTtlSeconds,
      async create (request) {
        const played = await signedUrls.create(request)
        const node = request.node === undefined ? null : findNode(await registry.list(), request.node).peerId
        demand.play(request.userId, request.mediaId, node)
        return played
      }
    }
    const invitations = createInvitations({
      logger,
      repository: catalog.repositories.invitations,
      userExists: async name => (await accounts.listUsers()).some(user => user.name === name),
      joinInfo: () => ({ addresses: peer.libp2p.getMultiaddrs().map(String), swarmKey })
    })
    const rotate = async (): Promise<RotatedKeys> => await rotateStreamKeys(access.keys, registry, peer.libp2p, log)
    const app = createHttpApp({
      accounts,
      limiter,
      accessSettings: () => accessSettings,
      libraryFolders: config.library,
      integrity: () => integrityStatus({ store: blocks, repairer, scrub }),
      verifyPins: async options => await verifyPins({ store: blocks, repairer, pins: peer.pins, getCodec: peer.getCodec }, options),
      segmentLost,
      logger,
      library,
      catalog,
      metadata,
      transcoder,
      reader,
      metrics,
      blockstore: peer.blockstore,
      peerId: peer.libp2p.peerId.toString(),
      nodes: registry,
      serverInfo,
      invitations,
      routing,
      replication,
      ui: webUi(),
      disk,
      access: { verifier: access.verifier, nodes: access.nodeCredentials, publicMedia: config.publicMedia },
      streamUrls,
      distributor: { progress: demand.progress, status: () => distributor.status() },
      rotateStreamKeys: rotate,
      leader: () => {
        if (cluster.isLeader()) return { here: true }
        return { here: false, url: cluster.leader()?.url }
      }
    })
    const http = await listenHttp(app, { key: 'listen', address: config.listen, setBy: config.setBy.listen }, log)
    stack.push(http.close)
    const { address } = http
    url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`

    const dns = createDnsServer({ logger, nodes: async () => await registry.list() }, { listen: { key: 'dnsListen', address: config.dnsListen, setBy: config.setBy.dnsListen }, zone: config.dnsZone })
    await dns.start()
    stack.push(async () => { await dns.stop() })
    registry.on('change', () => { dns.invalidate() })
    const bound = dns.address()
    dnsListen = `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`

    scrub.start()
    stack.push(scrub.stop)

    // what runs once, on the leader: the node registry's control streams (the others relay theirs to it), replication
    // upkeep, automatic distribution and the metadata's background look-ups; the others follow the catalog
    const relayControl = createControlServer({ libp2p: peer.libp2p, logger, handler: relayToLeader({ libp2p: peer.libp2p, leader: leaderPeer }) })
    let stopRelayServe = async (): Promise<void> => {}
    cluster.lead({
      name: 'node control',
      start: async () => {
        await relayControl.stop()
        await registry.start()
        const isMember = (id: string): boolean => cluster.members().some(member => member.peerId === id && !member.self)
        const stopControl = await serveControlRelay({ libp2p: peer.libp2p, logger, handler: registry, isMember })
        const stopDemand = await serveDemandRelay({
          libp2p: peer.libp2p,
          logger,
          isMember,
          onEvent: event => {
            if (event.type === 'play') distributor.play(event.viewer, event.mediaId, event.node)
            else void distributor.progress(event.viewer, event.mediaId, event.positionSeconds, event.durationSeconds).catch(err => { log.debug({ err }, 'a relayed progress failed') })
          }
        })
        stopRelayServe = async () => { await stopControl(); await stopDemand() }
      },
      stop: async () => {
        await stopRelayServe()
        await registry.stop()
        await relayControl.start()
      }
    })
    cluster.lead({ name: 'replication', start: async () => { await replication.start() }, stop: async () => { await replication.stop() } })
    cluster.lead({ name: 'distribution', start: () => { distributor.start() }, stop: async () => { await distributor.stop() } })
    cluster.lead({ name: 'metadata look-ups', start: async () => { await metadata.start() }, stop: async () => { await metadata.stop() } })
    // the registry's reads come from the catalog where another server leads; the other servers' peers are dialled so
    // blocks one made reach the others over bitswap
    const stopFollowing = systemClock.every(clusterBeatMs ?? 2000, () => {
      if (!cluster.isLeader()) void registry.follow().catch(err => { log.debug({ err }, 'reading the nodes from the catalog failed') })
    })
    stack.push(async () => { stopFollowing() })
    const dialMembers = (): void => {
      for (const member of cluster.members()) {
        if (member.self || member.addresses.length === 0) continue
        const id = peerIdFromString(member.peerId)
        if (peer.libp2p.getConnections(id).length > 0) continue
        void peer.libp2p.dial(member.addresses.map(a => multiaddr(a))).catch(err => { log.debug({ err, server: member.url }, 'dialling another main server failed') })
      }
    }
    others = () => cluster.members().filter(member => !member.self).length
    mainServers = () => cluster.members().map(member => ({ peerId: member.peerId, url: member.url, addresses: member.addresses.slice(0, 8) }))
    cluster.on('change', dialMembers)
    const stopDialling = systemClock.every(10_000, dialMembers)
    stack.push(async () => { stopDialling() })
    await relayControl.start()
    await cluster.start()
    stack.push(async () => { await cluster.stop(); await relayControl.stop() })

    if (config.library.length > 0) {
      const watcher = await watchLibrary({ logger, library }, { folders: config.library })
      stack.push(async () => { await watcher.stop() })
    }
    log.info({ url, peerId: peer.libp2p.peerId.toString(), data: config.data, dns: dns.address(), zone: dns.zone }, 'main server ready')
    return {
      url,
      peer,
      library,
      transcoder,
      metadata,
      metrics,
      dns,
      registry,
      replication,
      distributor,
      ipns,
      accounts,
      firstAdmin,
      routes: app.routes,
      addMedia: async path => (await library.add(path)).media,
      streamKeys: access.keys,
      streamUrls,
      rotateStreamKeys: rotate,
      cluster,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}
