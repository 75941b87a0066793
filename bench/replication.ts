import { createWriteStream } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { get as httpGet } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { generateSwarmKey, readSwarmKey } from '../core/config/index.ts'
import { PIN_PROGRESS_INTERVAL_MS } from '../core/control/index.ts'
import { DEFAULT_FETCH_CONCURRENCY, fetchDag } from '../core/edge/index.ts'
import { silentLogger } from '../core/logger.ts'
import { createPeer } from '../core/net/index.ts'
import { startNode } from '../node/cdn-node.ts'
import { bearer } from '../test/helpers/auth.ts'
import { startChild } from '../test/helpers/child.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { ensureNginx, startNginx } from './nginx.ts'
import { median, ratioOf } from './table.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'
import type { PinProvider } from '../core/control/index.ts'
import type { RunningNginx } from './nginx.ts'
import type { RunningNode } from '../node/cdn-node.ts'
import type { BitswapBlockBrokerInit } from '@helia/bitswap'
import type { IncomingMessage } from 'node:http'

/**
 * Issue #4's replication figures:
 * - r1: a pin between two CDN nodes on loopback (the holder in its own process; the receiver's pinner fetches,
 *   hashes, stores and pins) by the pinner's default path for a holder named with its gateway, against one HTTP GET
 *   of the same bytes from nginx, round after round; r1b: the default path for a holder named without one (the
 *   block stream); r1c: bitswap alone (what r1b was before the block stream);
 * - r2: the time to replicate the main server's 60 s 720p rendition to a fresh CDN node, from the API order to the
 *   pinned row (nudge, heartbeat reply, fetch, pin, report), against downloading its files from nginx;
 * - r3*: what the settings do: blocks in flight per pin, leaf size, and the holder's bitswap message size.
 */

export interface ReplicationBenchOptions {
  log?: (line: string) => void
  /** Rounds of r1 and r2. @default 3 */
  rounds?: number
  /** MiB moved by r1. @default 128 */
  mib?: number
  /** MiB moved by each r3 setting. @default 64 */
  sweepMib?: number
}

const HOLDER_SCRIPT = fileURLToPath(new URL('./replication-peer.ts', import.meta.url))
const MIB = 1024 * 1024
/** r1's goal (issue 16; issue 4 asked 0.5): replication at least this share of nginx's throughput. */
const THROUGHPUT_GOAL = 0.9
/** r1b's (issue 16): replication between nodes with no gateway to ask, at least this share of nginx's. */
const BITSWAP_ONLY_GOAL = 0.5
/** A server URL that answers nothing: the bench's nodes need no main server for r1. */
const NO_SERVER = 'http://127.0.0.1:9'

interface Holder { peerId: string, addrs: string[], root: string, url?: string, stop: () => Promise<void> }

interface Setting {
  id: string
  label: string
  concurrency: number
  chunkBytes: number
  bitswap: BitswapBlockBrokerInit
}

/** The setting the pinner ships with (DEFAULT_FETCH_CONCURRENCY, the import profile's leaves, Helia's bitswap). */
const DEFAULT_SETTING = 'r3d'
/** Every r3 setting; the default is the baseline of the others. */
const SETTINGS: Setting[] = [
  { id: 'r3a', label: '1 block in flight (Helia pins.add walks this way)', concurrency: 1, chunkBytes: MIB, bitswap: {} },
  { id: 'r3b', label: '4 blocks in flight', concurrency: 4, chunkBytes: MIB, bitswap: {} },
  { id: 'r3c', label: '8 blocks in flight', concurrency: 8, chunkBytes: MIB, bitswap: {} },
  { id: 'r3d', label: `${DEFAULT_FETCH_CONCURRENCY} blocks in flight, 1 MiB leaves (default)`, concurrency: DEFAULT_FETCH_CONCURRENCY, chunkBytes: MIB, bitswap: {} },
  { id: 'r3e', label: '32 blocks in flight', concurrency: 32, chunkBytes: MIB, bitswap: {} },
  { id: 'r3f', label: '256 KiB leaves, 64 in flight (the same bytes in flight as the default)', concurrency: 64, chunkBytes: 256 * 1024, bitswap: {} },
  { id: 'r3g', label: 'holder sends bitswap messages of at most ~1 MiB (Helia: 4 MiB)', concurrency: DEFAULT_FETCH_CONCURRENCY, chunkBytes: MIB, bitswap: { maxOutgoingMessageSize: MIB + 64 * 1024 } }
]

async function startHolder (dir: string, swarmKeyFile: string, mib: number, chunkBytes: number, bitswap: BitswapBlockBrokerInit, file: string, kind: 'peer' | 'node' = 'peer'): Promise<Holder> {
  const dataDir = await mkdtemp(join(dir, 'holder-'))
  const child = await startChild<{ peerId: string, addrs: string[], root: string, url?: string }>(HOLDER_SCRIPT, [dataDir, swarmKeyFile, String(mib), String(chunkBytes), JSON.stringify(bitswap), file, kind], 120_000)
  return { ...child.ready, stop: async () => { await child.stop(); await rm(dataDir, { recursive: true, force: true }) } }
}

function mbPerSecond (bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000)
}

/** One GET of `url` over a fresh connection, whole body read; MB/s. */
async function httpRate (url: string): Promise<{ mbPerSecond: number, bytes: number }> {
  const agent = newClient()
  try {
    const started = performance.now()
    const res = await fetchOk(url, agent)
    return { mbPerSecond: mbPerSecond(res.body.byteLength, performance.now() - started), bytes: res.body.byteLength }
  } finally {
    agent.destroy()
  }
}

/** One GET of `url` saved to `file` (a download, as curl -o does: replication stores its bytes too); MB/s. */
async function downloadRate (url: string, file: string): Promise<number> {
  const agent = newClient()
  try {
    const started = performance.now()
    const response = await new Promise<IncomingMessage>((resolve, reject) => { httpGet(url, { agent }, resolve).once('error', reject) })
    if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode ?? 0}`)
    await pipeline(response, createWriteStream(file))
    const ms = performance.now() - started
    return mbPerSecond((await stat(file)).size, ms)
  } finally {
    agent.destroy()
    await rm(file, { force: true })
  }
}

/** Rows r1, r2 (with a main server holding its rendition) and r3a-r3g. */
export async function measureReplication (server: BenchServer | undefined, options: ReplicationBenchOptions = {}): Promise<Row[]> {
  const log = options.log ?? (() => {})
  const rounds = options.rounds ?? 3
  const mib = options.mib ?? 128
  const sweepMib = options.sweepMib ?? 64
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-replication-'))
  const www = join(dir, 'www')
  await mkdir(www)
  // nginx's workers run as nobody when the bench runs as root
  await chmod(dir, 0o755)
  await chmod(www, 0o755)
  const swarmKeyFile = join(dir, 'swarm.key')
  await writeFile(swarmKeyFile, generateSwarmKey())
  const cleanup: Array<() => Promise<void>> = [async () => { await rm(dir, { recursive: true, force: true }) }]
  const rows: Row[] = []
  try {
    const missing = await ensureNginx(log)
    let nginx: RunningNginx | undefined
    if (missing == null) {
      nginx = await startNginx(www)
      cleanup.push(nginx.stop)
    }
    rows.push(...await nodeToNode(dir, swarmKeyFile, mib, rounds, nginx, missing, log, cleanup))
    if (server != null) rows.push(await renditionReplication(dir, server, rounds, nginx, log, cleanup))
    rows.push(...await sweep(dir, swarmKeyFile, sweepMib, log))
    return rows
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {})
  }
}

/** One way a pin can fetch, as r1-r1c measure it. */
interface PinPath {
  id: string
  label: string
  /** The holder named with its gateway, or with its libp2p addresses alone. */
  gateway: boolean
  /** The pinner may ask for the block stream (the default) or never does. */
  blockStream: boolean
}

/**
 * The paths of r1-r1c: what the pinner does with a holder named with its gateway (the gateway: plain HTTP beats the
 * stream's two ciphers), and with one named without (the block stream), then bitswap alone, the path of such holders
 * before the block stream.
 */
const PIN_PATHS: PinPath[] = [
  { id: 'r1', label: 'the pinner\'s default path for a holder named with its gateway: the gateway, bitswap for what it lacks', gateway: true, blockStream: true },
  { id: 'r1b', label: 'the pinner\'s default path for a holder without a reachable gateway (local-only nodes): the block stream (pnet + noise + yamux), bitswap for what it lacks', gateway: false, blockStream: true },
  { id: 'r1c', label: 'bitswap alone (a holder without the block stream protocol; r1b before it)', gateway: false, blockStream: false }
]

async function nodeToNode (dir: string, swarmKeyFile: string, mib: number, rounds: number, nginx: RunningNginx | undefined, missing: string | undefined, log: (line: string) => void, cleanup: Array<() => Promise<void>>): Promise<Row[]> {
  const holder = await startHolder(dir, swarmKeyFile, mib, MIB, {}, join(dir, 'www', 'blob.bin'), 'node')
  cleanup.push(holder.stop)
  const receiver = async (name: string, blockStream: boolean): Promise<RunningNode> => {
    const node = await startNode({ dataDir: join(dir, name), swarmKeyFile, server: NO_SERVER, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], name, logLevel: 'silent', minBackoffMs: 30_000, maxBackoffMs: 30_000, pinner: { blockStream } })
    cleanup.push(node.stop)
    return node
  }
  // a receiver as nodes ship, and one that never asks for the block stream (the paths before it)
  const receivers = { default: await receiver('receiver', true), withoutStream: await receiver('receiver-without-stream', false) }
  const root = CID.parse(holder.root)
  // what an order names for a shared node that holds the root: its libp2p addresses and its gateway
  const withGateway: PinProvider = { peerId: holder.peerId, addrs: holder.addrs, gateway: holder.url }
  const withoutGateway: PinProvider = { peerId: holder.peerId, addrs: holder.addrs }
  const rates = new Map<string, number[]>(PIN_PATHS.map(path => [path.id, []]))
  const sources = new Map<string, { stream: number, gateway: number }>()
  const nginxRates = { file: [] as number[], memory: [] as number[] }
  const download = join(dir, 'download.bin')
  let bytes = 0
  const pinRound = async (path: PinPath): Promise<number> => {
    const node = path.blockStream ? receivers.default : receivers.withoutStream
    const started = performance.now()
    const done = await node.pinner.pin(root, { providers: [path.gateway ? withGateway : withoutGateway] })
    const ms = performance.now() - started
    bytes = done.bytesDone
    sources.set(path.id, { stream: done.bytesFromStream / Math.max(1, done.bytesFetched), gateway: done.bytesFromGateways / Math.max(1, done.bytesFetched) })
    await node.pinner.unpin(root)
    // a new connection each round: the holder's bitswap remembers what it sent on the old one for a while and
    // would not send it again (see pin-fetch.ts, DEFAULT_REWANT_MS)
    await node.peer.libp2p.hangUp(peerIdFromString(holder.peerId))
    return mbPerSecond(done.bytesDone, ms)
  }
  // one round of each, not counted: the JIT, the holder's block cache and the page cache warm for every path alike
  if (nginx != null) await downloadRate(`${nginx.url}/blob.bin`, download)
  for (const path of PIN_PATHS) await pinRound(path)
  for (let i = 0; i < rounds; i++) {
    if (nginx != null) {
      nginxRates.file.push(await downloadRate(`${nginx.url}/blob.bin`, download))
      nginxRates.memory.push((await httpRate(`${nginx.url}/blob.bin`)).mbPerSecond)
    }
    // each round starts with another path: what ran just before (nginx's download filling the page cache with
    // dirty pages, another path's pin) falls on each alike
    for (let k = 0; k < PIN_PATHS.length; k++) {
      const path = PIN_PATHS[(i + k) % PIN_PATHS.length]
      rates.get(path.id)?.push(await pinRound(path))
    }
    log(`replication round ${i + 1}: ${PIN_PATHS.map(path => `${path.id} ${rates.get(path.id)?.at(-1)?.toFixed(1)}`).join(', ')} MB/s; nginx ${nginxRates.file.at(-1)?.toFixed(0) ?? '-'} MB/s to a file, ${nginxRates.memory.at(-1)?.toFixed(0) ?? '-'} MB/s into memory`)
  }
  // each path must have moved its bytes the way it says
  const share = (id: string): { stream: number, gateway: number } => sources.get(id) ?? { stream: 0, gateway: 0 }
  if (share('r1').gateway < 1) throw new Error(`r1: only ${(share('r1').gateway * 100).toFixed(0)}% of the bytes came from the holder's gateway`)
  if (share('r1b').stream < 1) throw new Error(`r1b: only ${(share('r1b').stream * 100).toFixed(0)}% of the bytes came over the block stream`)
  if (share('r1c').stream > 0 || share('r1c').gateway > 0) throw new Error('r1c: bytes came from elsewhere than bitswap')
  const baseline = nginxRates.file.length > 0 ? median(nginxRates.file) : null
  const inMemory = nginxRates.memory.length > 0 ? median(nginxRates.memory) : null
  const nginxNote = nginxRates.file.map(v => v.toFixed(0)).join(', ') || (missing ?? 'not run')
  return PIN_PATHS.map(path => {
    const values = rates.get(path.id) ?? []
    const value = median(values)
    const ratio = ratioOf(value, baseline)
    const from = share(path.id)
    const goal = path.id === 'r1' ? THROUGHPUT_GOAL : path.id === 'r1b' ? BITSWAP_ONLY_GOAL : undefined
    return {
      id: path.id,
      figure: `${path.id === 'r1' ? `replication between two CDN nodes on loopback (${mib} MiB, fetch, hash, store and pin): ` : ''}${path.label}`,
      value,
      unit: 'MB/s',
      baseline,
      baselineLabel: 'nginx, a download of the same bytes to a file',
      ratio,
      goal: goal == null ? 'info' : `>= ${goal}x nginx (issue #16)`,
      pass: goal == null || ratio == null ? null : ratio >= goal,
      note: `median of ${rounds} rounds after one not counted, paths in turn, each round starting with the next (${values.map(v => v.toFixed(1)).join(', ')} MB/s; nginx to a file ${nginxNote}); ${(from.stream * 100).toFixed(0)}% of the bytes over the block stream, ${(from.gateway * 100).toFixed(0)}% from the gateway, the rest over bitswap${path.id === 'r1' ? `. The same GET read into memory only: ${inMemory?.toFixed(0) ?? '-'} MB/s (${ratioOf(value, inMemory)?.toFixed(2) ?? '-'}x of it); a pin stores what it fetches, so the baseline is a download that does too. Gateway: ${DEFAULT_FETCH_CONCURRENCY} blocks in flight as ?format=raw requests over kept-alive connections; block stream (r1b): one libp2p stream, the holder reading ahead, 8 blocks hashed and stored at once; every block hashed before it is stored` : ''}`,
      details: { pinsMbPerSecond: values, nginxMbPerSecond: nginxRates.file, nginxInMemoryMbPerSecond: nginxRates.memory, bytes, fromStream: from.stream, fromGateway: from.gateway }
    }
  })
}

async function renditionReplication (dir: string, server: BenchServer, rounds: number, nginx: RunningNginx | undefined, log: (line: string) => void, cleanup: Array<() => Promise<void>>): Promise<Row> {
  const { root } = await server.renditionState()
  if (root == null) throw new Error('the rendition is not complete')
  // the rendition's files as stored, for nginx: read as the admin (a play URL's token would be written into the playlist)
  const agent = newClient()
  const asAdmin = { headers: bearer(server.token) }
  const playlist = (await fetchOk(`${server.rendition}/index.m3u8`, agent, asAdmin)).body
  const files = ['index.m3u8', 'init.mp4', ...playlist.toString().split('\n').filter(l => l.endsWith('.m4s'))]
  await mkdir(join(dir, 'www', 'rendition'), { mode: 0o755 })
  for (const file of files) await writeFile(join(dir, 'www', 'rendition', file), (await fetchOk(`${server.rendition}/${file}`, agent, asAdmin)).body, { mode: 0o644 })
  agent.destroy()

  const times: number[] = []
  const downloads: number[] = []
  let bytes = 0
  for (let i = 0; i < rounds; i++) {
    if (nginx != null) {
      const client = newClient()
      const started = performance.now()
      for (const file of files) await fetchOk(`${nginx.url}/rendition/${file}`, client)
      downloads.push((performance.now() - started) / 1000)
      client.destroy()
    }
    // a fresh node each round: nothing held, no history with the main server's bitswap
    const name = `bench-replica-${i + 1}`
    const node = await startNode({ dataDir: join(dir, name), swarmKeyFile: join(server.dataDir, 'swarm.key'), server: server.url, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 200, maxBackoffMs: 1000 })
    cleanup.push(node.stop)
    const deadline = Date.now() + 30_000
    while (node.status().state !== 'registered') {
      if (Date.now() > deadline) throw new Error(`${name} did not register: ${JSON.stringify(node.status().error)}`)
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    const started = performance.now()
    const res = await fetch(`${server.url}/api/v1/replications`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(server.token) }, body: JSON.stringify({ cid: root, node: name }) })
    if (res.status !== 202) throw new Error(`POST /api/v1/replications answered ${res.status}: ${await res.text()}`)
    for (;;) {
      const rows = await (await fetch(`${server.url}/api/v1/replications?cid=${root}&node=${name}`, { headers: bearer(server.token) })).json() as { items: Array<{ state: string, reason: string | null, progress: { bytesTotal: number | null } }> }
      const row = rows.items[0]
      if (row?.state === 'pinned') { bytes = row.progress.bytesTotal ?? 0; break }
      if (row?.state === 'failed') throw new Error(`the replication failed: ${row.reason ?? ''}`)
      if (performance.now() - started > 300_000) throw new Error('the replication did not finish within 5 minutes')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    times.push((performance.now() - started) / 1000)
    log(`rendition replication round ${i + 1}: ${times.at(-1)?.toFixed(2)} s for ${(bytes / 1e6).toFixed(1)} MB (nginx ${downloads.at(-1)?.toFixed(2) ?? '-'} s)`)
    await node.stop()
  }
  const value = median(times)
  const baseline = downloads.length > 0 ? median(downloads) : null
  return {
    id: 'r2',
    figure: `replicating the 60 s 720p rendition (${(bytes / 1e6).toFixed(1)} MB, ${files.length} files) to a fresh node: API order to pinned row`,
    value,
    unit: 's',
    baseline,
    baselineLabel: 'nginx, its files over one connection',
    ratio: ratioOf(value, baseline),
    goal: 'info',
    pass: null,
    note: `median of ${rounds} (${times.map(s => s.toFixed(2)).join(', ')} s, ${(bytes / 1e6 / value).toFixed(1)} MB/s): the order reaches the node by the orders nudge, progress and the final state by heartbeats (every ${PIN_PROGRESS_INTERVAL_MS / 1000} s while busy); includes the server's placement, the node's fetch and pin and the report`,
    details: { seconds: times, nginxSeconds: downloads, bytes, files: files.length }
  }
}

async function sweep (dir: string, swarmKeyFile: string, mib: number, log: (line: string) => void): Promise<Row[]> {
  const rates = new Map<string, number>()
  const swarmKey = await readSwarmKey(swarmKeyFile)
  let holder: Holder | undefined
  let holding = ''
  try {
    for (const setting of SETTINGS) {
      const kind = JSON.stringify([setting.chunkBytes, setting.bitswap])
      if (holder == null || kind !== holding) {
        await holder?.stop()
        holder = await startHolder(dir, swarmKeyFile, mib, setting.chunkBytes, setting.bitswap, join(dir, 'sweep.bin'))
        holding = kind
      }
      const from: Holder = holder
      // a fresh receiving peer each time: empty blockstore, new connection
      const dataDir = await mkdtemp(join(dir, 'fetcher-'))
      const peer = await createPeer({ logger: silentLogger() }, { dataDir, swarmKey })
      try {
        await peer.libp2p.dial(from.addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${from.peerId}`)))
        const started = performance.now()
        const done = await fetchDag({ blockstore: peer.blockstore, getCodec: peer.getCodec }, CID.parse(from.root), { concurrency: setting.concurrency, stallTimeoutMs: 60_000 })
        rates.set(setting.id, mbPerSecond(done.bytesDone, performance.now() - started))
        log(`${setting.id} ${setting.label}: ${rates.get(setting.id)?.toFixed(1)} MB/s`)
      } finally {
        await peer.stop()
        await rm(dataDir, { recursive: true, force: true })
      }
    }
  } finally {
    await holder?.stop()
  }
  const baseline = rates.get(DEFAULT_SETTING) ?? null
  return SETTINGS.map(setting => {
    const value = rates.get(setting.id) ?? null
    const isDefault = setting.id === DEFAULT_SETTING
    return {
      id: setting.id,
      figure: `bitswap fetch, ${mib} MiB: ${setting.label}`,
      value,
      unit: 'MB/s',
      baseline: isDefault ? null : baseline,
      baselineLabel: isDefault ? '-' : `the default (${DEFAULT_SETTING})`,
      ratio: isDefault ? null : ratioOf(value, baseline),
      goal: 'info',
      pass: null,
      note: isDefault ? `the pinner's default: ${DEFAULT_FETCH_CONCURRENCY} blocks in flight (more in flight gains a little more and costs memory and long holder batches on a busy machine), 1 MiB leaves (the import profile, so CIDs match Kubo's; larger blocks never cross bitswap), Helia's bitswap settings (smaller holder messages did not help reliably)` : undefined,
      details: { concurrency: setting.concurrency, chunkBytes: setting.chunkBytes, bitswap: setting.bitswap }
    }
  })
}
