import { mkdir, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { createCatalog } from '../core/catalog/catalog.ts'
import { loadServerConfig, parseListen } from '../core/config.ts'
import { createDnsServer } from '../core/dns/server.ts'
import { createContentReader } from '../core/ipfs/content-reader.ts'
import { createLogger } from '../core/logger.ts'
import { resolveFfmpeg } from '../core/media/ffmpeg-binary.ts'
import { ENCODER_SETTINGS } from '../core/media/ffmpeg-args.ts'
import { createLibrary } from '../core/media/library.ts'
import { createSegmentStore } from '../core/media/segment-store.ts'
import { createTranscoder } from '../core/media/transcoder.ts'
import { createMetrics } from '../core/metrics.ts'
import { lockDataFolder } from '../core/net/data-lock.ts'
import { createPeer } from '../core/net/peer.ts'
import { createHttpApp } from '../gateway/app.ts'
import { ensureDataFolder } from './init.ts'
import { watchLibrary } from './library-watcher.ts'
import type { ServerConfig } from '../core/config.ts'
import type { DnsServer } from '../core/dns/server.ts'
import type { Library, MediaView } from '../core/media/library.ts'
import type { Transcoder } from '../core/media/transcoder.ts'
import type { Metrics } from '../core/metrics.ts'
import type { Peer } from '../core/net/peer.ts'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StartServerOptions extends Partial<Omit<ServerConfig, 'data'>> {
  /** Data folder. @default ./.cidcast */
  dataDir?: string
}

/** A running main server. */
export interface RunningServer {
  /** `http://HOST:PORT` where it answers. */
  url: string
  peer: Peer
  library: Library
  transcoder: Transcoder
  metrics: Metrics
  /** The zone's DNS server (`dns.address().port` is the bound UDP/TCP port). */
  dns: DnsServer
  /** Adds a file to the library (as `POST /api/v1/media` does). */
  addMedia: (path: string) => Promise<MediaView>
  /** Stops HTTP, ffmpeg, the catalog and the peer, in reverse order of start. */
  stop: () => Promise<void>
}

/** Starts the main server: peer, catalog, transcoder, HTTP and DNS, in that order. */
export async function startServer (options: StartServerOptions = {}): Promise<RunningServer> {
  const { dataDir, ...flags } = options
  const config = await loadServerConfig({ ...flags, data: dataDir })
  const logger = createLogger({ level: config.logLevel })
  const log = logger.child({ name: 'cidcast:server' })
  const stack: Array<() => Promise<void>> = []
  const stop = async (): Promise<void> => {
    while (stack.length > 0) {
      const step = stack.pop()
      try { await step?.() } catch (err) { log.error({ err }, 'stopping a part failed') }
    }
  }
  try {
    const { swarmKey } = await ensureDataFolder(config.data)
    stack.push(await lockDataFolder(config.data))

    const ffmpeg = await resolveFfmpeg()
    log.info({ ffmpeg: ffmpeg.ffmpeg, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found')

    const peer = await createPeer({ logger }, { dataDir: config.data, swarmKey, listen: config.p2pListen })
    stack.push(async () => { await peer.stop() })

    const catalog = createCatalog({ logger: logger.child({ name: 'cidcast:catalog' }) }, { database: join(config.data, 'catalog.sqlite') })
    await catalog.start()
    stack.push(async () => { await catalog.stop() })

    let sessionCount = (): number => 0
    const metrics = createMetrics({ runningSessions: () => sessionCount() })
    const fs = unixfs(peer)
    const library = createLibrary({
      logger: logger.child({ name: 'cidcast:library' }),
      catalog,
      unixfs: fs,
      blockstore: peer.blockstore,
      pins: peer.pins,
      ffprobe: ffmpeg.ffprobe,
      fingerprint: `${ffmpeg.encoderFingerprint};${ENCODER_SETTINGS}`
    })
    const segments = createSegmentStore({
      unixfs: fs,
      index: {
        getSegment: async (key, index) => await catalog.getSegment(key, index),
        putSegment: async (key, index, cid, bytes) => { await catalog.putSegment(key, index, cid, bytes) },
        getInit: async key => (await catalog.getRendition(key))?.initCid ?? undefined,
        setInit: async (key, cid) => { await catalog.setInit(key, cid) }
      }
    })
    const workDir = join(config.data, 'transcode')
    // leftovers of a crash are never resumed: segments are only trusted once imported
    await rm(workDir, { recursive: true, force: true })
    await mkdir(workDir, { recursive: true })
    const transcoder = createTranscoder({
      logger: logger.child({ name: 'cidcast:transcoder' }),
      ffmpeg: { path: ffmpeg.ffmpeg, major: ffmpeg.major },
      segments,
      workDir,
      onComplete: async job => { await library.finish(job) },
      onSessionStart: () => { metrics.ffmpegSessionsStarted.inc() }
    }, { maxSessions: config.maxSessions })
    await transcoder.start()
    sessionCount = () => transcoder.sessions().length
    stack.push(async () => { await transcoder.stop() })

    const reader = createContentReader({ blockstore: peer.blockstore, logger }, { cacheBytes: config.cacheBytes })
    const app = createHttpApp({ logger, library, catalog, transcoder, reader, metrics, blockstore: peer.blockstore, peerId: peer.libp2p.peerId.toString() })
    const { host, port } = parseListen(config.listen)
    const http: Server = createServer(app.callback())
    http.keepAliveTimeout = 65_000
    http.listen(port, host)
    await Promise.race([once(http, 'listening'), once(http, 'error').then(([err]) => { throw err })])
    stack.push(async () => {
      http.closeAllConnections()
      await new Promise<void>(resolve => http.close(() => { resolve() }))
    })
    const address = http.address() as AddressInfo
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`

    // TODO(registry): pass the node registry's `list` as `nodes` and call `dns.invalidate()` on its 'change' event
    const dns = createDnsServer({ logger, nodes: async () => [] }, { listen: config.dnsListen, zone: config.dnsZone })
    await dns.start()
    stack.push(async () => { await dns.stop() })

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
      metrics,
      dns,
      addMedia: async path => (await library.add(path)).media,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}
