import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDist } from '../bin/build-dist.js'
import { freshDistEntry } from '../bin/dist-entry.js'
import { openKeyRing, PUBLIC_KEYS_FILE } from '../core/access/index.ts'
import { silentLogger } from '../core/logger.ts'
import { childFlags, startChild } from '../test/helpers/child.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { streamTokenFromKeyFile, withToken } from '../test/helpers/stream-url.ts'
import { executableRows, measureExecutable } from './executable.ts'
import { BUSY_CORES } from './cpu-time.ts'
import { ensureCrowd, measureCrowd } from './crowd.ts'
import { measureRounds } from './load.ts'
import { ensureNginx, startNginx } from './nginx.ts'
import { PROFILE } from './server.ts'
import { rssMb, sleep, timeToFirstAnswer, untilRegistered } from './startup.ts'
import { median, ratioOf } from './table.ts'
import { freePort } from '../test/helpers/ports.ts'
import { ACCEPT_SOCKETS } from '../node/http-listener.ts'
import type { LoadTarget } from './load.ts'
import type { RunningNginx } from './nginx.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * Issue #3's figures for a CDN node (rows n1-n4, and issue #14's n5-n7 for the single executable: bench/executable.ts): cold start to the first served segment, idle RSS, segment
 * throughput against nginx on the same files, and 200 concurrent clients for 30 s (wrk; issue #16: rounds taken in
 * turn with nginx's, bench/crowd.ts); and issue #11's
 * a4: segment throughput with every request carrying a stream token (as players send them) against no check at all,
 * on two copies of the node's folder made at the same moment (one keeps its keys, the other's key file marks media
 * public; neither can reach the main server), in the same interleaved rounds as n3: two fresh copies, since the
 * original process measured ~9% more CPU per GB than a copy with nothing else different. Every request to the node
 * carries a token signed with the main server's key file, as a play URL's. The node is
 * `cidcast node` as a user runs it (bin/cidcast.js: the bundle in dist/, rebuilt here first if the sources changed;
 * CIDCAST_FROM_SOURCE=1 measures the sources through tsx instead), in its own process, holding (pinned, over
 * bitswap, by test/helpers/node-process.ts beforehand) the main server's complete rendition; baselines are measured in the
 * same run: a bare Node process for start and memory, nginx for throughput and load.
 */

const NODE_SCRIPT = fileURLToPath(new URL('../test/helpers/node-process.ts', import.meta.url))
const CLI = fileURLToPath(new URL('../bin/cidcast.js', import.meta.url))
const COLD_START_GOAL_MS = 1000
/** Issue #16 (issue #3 asked 120 MB). */
const IDLE_RSS_GOAL_MB = 80
const THROUGHPUT_GOAL_RATIO = 0.6
/** Segment throughput with stream tokens against without. */
const TOKEN_THROUGHPUT_GOAL_RATIO = 0.95
/** Issue #16: the p99 of 200 clients against nginx's on the same files. */
const CROWD_P99_GOAL_RATIO = 1.2

export interface NodeBenchOptions {
  /** Cold starts measured (the median is reported). @default 3 */
  repeats?: number
  /** Throughput rounds and seconds per round. @default 3 and 3 */
  rounds?: number
  roundSeconds?: number
  /** Keep-alive connections of the throughput rounds. @default 32 */
  connections?: number
  /** Concurrent clients, seconds and rounds of the autocannon runs (node and nginx in turn each round). @default 200, 30 and 3 */
  clients?: number
  clientSeconds?: number
  clientRounds?: number
  /** Seconds a started node sits without traffic before its RSS is read. @default 5 */
  idleSeconds?: number
  /** Rows n5-n7: the single executable beside n1 and n2 (built for this machine with `npm run package`). @default true */
  executable?: boolean
  /** Only rows n1 and n2 (cold start, idle RSS), and n5-n7: no nginx, throughput or load run. @default false */
  startOnly?: boolean
  log?: (line: string) => void
}

/** What `cidcast node` will run: the bundle (built now when missing or older than a source), or the sources. */
async function nodeEntry (log: (line: string) => void): Promise<'dist' | 'sources'> {
  if (process.env.CIDCAST_FROM_SOURCE != null && process.env.CIDCAST_FROM_SOURCE !== '' && process.env.CIDCAST_FROM_SOURCE !== '0') return 'sources'
  if (freshDistEntry() == null) await buildDist({ log })
  return freshDistEntry() == null ? 'sources' : 'dist'
}

/** A bare Node HTTP server: the floor for process start and memory. */
const BARE_SERVER = "require('node:http').createServer((q,s)=>s.end('ok')).listen(Number(process.argv[1]),'127.0.0.1')"

/**
 * A bare Node HTTP server answering the files under argv[1] from memory, each with one `end(buffer)`, listening as the
 * node does: what Node itself does under n4's crowd, to tell the node's own tail from the platform's.
 */
const BARE_FILE_SERVER = "const fs=require('node:fs'),p=require('node:path'),[root,port]=process.argv.slice(1),files=new Map();" +
  "(function walk(d){for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);if(e.isDirectory())walk(f);else files.set('/'+p.relative(root,f),fs.readFileSync(f))}})(root);" +
  "const answer=(q,s)=>{const b=files.get(q.url.split('?')[0]);if(b==null){s.statusCode=404;s.end();return}s.setHeader('Content-Length',b.length);s.end(b)};" +
  // as many listening sockets as the node's (node/http-listener.ts): one socket accepts one connection per loop turn
  `for(let n=0;n<${ACCEPT_SOCKETS};n++)require('node:http').createServer(answer).listen({port:Number(port),host:'127.0.0.1',reusePort:${ACCEPT_SOCKETS > 1}})`

interface Served {
  root: string
  paths: string[]
  bytes: number
}

/** Fetches the rendition once through the node (it learns every file's CID) and writes it out for nginx. */
async function saveThroughNode (nodeUrl: string, server: BenchServer, segments: number, token: string): Promise<Served> {
  const root = await mkdtemp(join(tmpdir(), 'cidcast-bench-node-www-'))
  await chmod(root, 0o755)
  const base = `/media/${server.id}/${PROFILE}`
  await mkdir(join(root, base), { recursive: true, mode: 0o755 })
  const client = newClient()
  try {
    await fetchOk(withToken(`${nodeUrl}/media/${server.id}/master.m3u8`, token), client)
    const paths: string[] = []
    let bytes = 0
    for (const name of ['index.m3u8', 'init.mp4', ...Array.from({ length: segments }, (_, n) => `${n}.m4s`)]) {
      const res = await fetchOk(withToken(`${nodeUrl}${base}/${name}`, token), client)
      if (res.headers['x-cidcast-source'] !== 'local') throw new Error(`${base}/${name} came from ${String(res.headers['x-cidcast-source'])}, not the node's own blocks`)
      await writeFile(join(root, base, name), res.body, { mode: 0o644 })
      if (!name.endsWith('.m4s')) continue
      paths.push(`${base}/${name}`)
      bytes += res.body.byteLength
    }
    return { root, paths, bytes }
  } finally {
    client.destroy()
  }
}

/**
 * A node from a copy of `dataDir` that cannot reach the main server (its remembered address removed, a server URL
 * nobody answers at), so its key file stays as written: its keys, and public media when `publicMedia`.
 */
async function twinOf (dataDir: string, name: string, publicMedia: boolean, nodeArgs: (dir: string, listen: string) => string[]): Promise<{ dir: string, port: number, args: string[] }> {
  const dir = `${dataDir}-${name}`
  await cp(dataDir, dir, { recursive: true })
  await rm(join(dir, 'server.json'), { force: true })
  const keys = await openKeyRing({ logger: silentLogger() }, { path: join(dir, PUBLIC_KEYS_FILE) })
  await keys.replace(keys.list(), { publicMedia })
  const port = await freePort()
  return { dir, port, args: nodeArgs(dir, `127.0.0.1:${port}`) }
}

/** Rows n1-n7 for a node holding `server`'s complete rendition of `segments` segments. */
export async function measureNode (server: BenchServer, segments: number, options: NodeBenchOptions = {}): Promise<Row[]> {
  const log = options.log ?? (() => {})
  const repeats = options.repeats ?? 3
  const { root } = await server.renditionState()
  if (root == null) throw new Error(`the ${PROFILE} rendition is not complete`)
  const dataDir = await mkdtemp(join(tmpdir(), 'cidcast-bench-node-'))
  const swarmKey = join(server.dataDir, 'swarm.key')
  const port = await freePort()
  const listen = `127.0.0.1:${port}`
  const nodeUrl = `http://${listen}`
  // the node's own flags: `cidcast node FLAGS` and the executable's `cidcast-node FLAGS` take the same
  const flagsFor = (dir: string, at: string, serverUrl = server.url, level = process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn'): string[] => ['--data', dir, '--server', serverUrl, '--swarm-key', swarmKey, '--listen', at,
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--name', 'bench node', '--log-level', level]
  const argsFor = (dir: string, at: string, serverUrl?: string, level?: string): string[] => [...childFlags(), CLI, 'node', ...flagsFor(dir, at, serverUrl, level)]
  const nodeArgs = argsFor(dataDir, listen)
  // every request carries a token as a play URL's does; media paths need no roots in it
  const token = await streamTokenFromKeyFile(server.dataDir, server.id)
  let node: { stop: () => Promise<void> } | undefined
  const twins: Array<{ stop: () => Promise<void> }> = []
  const twinDirs: string[] = []
  let served: Served | undefined
  let nginx: RunningNginx | undefined
  try {
    log(`node: pinning ${root} over bitswap, then learning the rendition through the node`)
    const pinning = await startChild(NODE_SCRIPT, [dataDir, server.url, swarmKey, listen, root], 120_000)
    node = pinning
    served = await saveThroughNode(nodeUrl, server, segments, token)
    await pinning.stop()
    node = undefined
    // copied at once, before any later run; their main server answers nowhere (it would send its own publicMedia),
    // errors only: they cannot publish their IPNS record
    const offline = (dir: string, at: string): string[] => argsFor(dir, at, 'http://127.0.0.1:9', 'error')
    const copies = { signed: await twinOf(dataDir, 'signed', false, offline), open: await twinOf(dataDir, 'public', true, offline) }
    twinDirs.push(copies.signed.dir, copies.open.dir)

    const entry = await nodeEntry(log)
    const segmentUrl = withToken(`${nodeUrl}${served.paths[0]}`, token)
    const starts: number[] = []
    for (let i = 0; i < repeats; i++) {
      const run = await timeToFirstAnswer({ args: nodeArgs }, segmentUrl, true)
      starts.push(run.ms)
      await run.stop()
    }
    const barePort = await freePort()
    const bare = await timeToFirstAnswer({ args: ['-e', BARE_SERVER, String(barePort)] }, `http://127.0.0.1:${barePort}/`, false)
    await sleep((options.idleSeconds ?? 5) * 1000)
    const bareRss = await rssMb(bare.pid)
    await bare.stop()
    log(`node cold start: ${starts.map(ms => ms.toFixed(0)).join(', ')} ms; bare Node ${bare.ms.toFixed(0)} ms`)
    // on the same data folder, while no other node holds it; an executable that cannot be built leaves n5-n7 unmeasured
    const executable = options.executable === false
      ? undefined
      : await measureExecutable({ flags: flagsFor(dataDir, listen), segmentUrl, nodeUrl, repeats, idleSeconds: options.idleSeconds ?? 5, log }).catch((err: unknown) => {
        log(`executable figures failed: ${(err as Error).stack ?? String(err)}`)
        return err as Error
      })

    // idle RSS of `repeats` starts (the median counts: one start's heap may sit a few MB either side); the last stays up
    const idleRsses: number[] = []
    let running: Awaited<ReturnType<typeof timeToFirstAnswer>> | undefined
    for (let i = 0; i < repeats; i++) {
      await running?.stop()
      running = await timeToFirstAnswer({ args: nodeArgs }, `${nodeUrl}/healthz`, false)
      node = running
      await untilRegistered(nodeUrl)
      await sleep((options.idleSeconds ?? 5) * 1000)
      idleRsses.push(await rssMb(running.pid))
    }
    if (running == null) throw new Error('no idle start was measured')
    const nodePid = running.pid
    const idleRss = median(idleRsses)
    log(`node idle RSS ${idleRsses.map(mb => mb.toFixed(1)).join(', ')} MB (bare Node ${bareRss.toFixed(0)} MB)`)
    // a source saved by someone while the bench ran makes bin/cidcast.js fall back to the sources
    const ran = entry === 'dist' && freshDistEntry() == null ? 'dist or sources (a source changed during the runs)' : entry === 'dist' ? 'the bundle in dist/' : 'the TypeScript sources through tsx'
    const startRows = (afterLoadRss?: number): Row[] => [{
      id: 'n1',
      figure: 'CDN node: cold start to the first segment served from its blocks',
      value: median(starts),
      unit: 'ms',
      baseline: bare.ms,
      baselineLabel: 'bare Node HTTP server',
      ratio: ratioOf(median(starts), bare.ms),
      goal: `<= ${COLD_START_GOAL_MS} ms`,
      pass: median(starts) <= COLD_START_GOAL_MS,
      note: `median of ${repeats} (${starts.map(ms => ms.toFixed(0)).join(', ')} ms): spawn of \`cidcast node\` (${ran}) to a 200 with X-Cidcast-Source: local`,
      details: { startsMs: starts, bareMs: bare.ms, entry }
    }, {
      id: 'n2',
      figure: 'CDN node: idle RSS (registered, no traffic)',
      value: idleRss,
      unit: 'MB',
      baseline: bareRss,
      baselineLabel: 'bare Node HTTP server',
      ratio: ratioOf(idleRss, bareRss),
      goal: `<= ${IDLE_RSS_GOAL_MB} MB (issue #16)`,
      pass: idleRss <= IDLE_RSS_GOAL_MB,
      note: `median of ${idleRsses.length} starts (${idleRsses.map(mb => mb.toFixed(1)).join(', ')} MB), each after ${options.idleSeconds ?? 5} s idle, ${ran}` + (afterLoadRss == null ? '' : `; ${afterLoadRss.toFixed(0)} MB after the load figures`),
      details: { idleRssMb: idleRss, idleRssesMb: idleRsses, afterLoadRssMb: afterLoadRss, bareRssMb: bareRss }
    }, ...executable == null ? [] : executableRows(executable, { startsMs: starts, idleRssMb: idleRss, ran })]
    if (options.startOnly === true) return startRows()

    const skipped = await ensureNginx(log)
    if (skipped == null) nginx = await startNginx(served.root)
    const connections = options.connections ?? 32
    const rounds = options.rounds ?? 3
    const seconds = options.roundSeconds ?? 3
    log(`node throughput: ${connections} connections, ${rounds} rounds of ${seconds} s`)
    const signedPaths = served.paths.map(path => withToken(path, token))
    const signed = await timeToFirstAnswer({ args: copies.signed.args }, `http://127.0.0.1:${copies.signed.port}${signedPaths[0]}`, true)
    twins.push(signed)
    const open = await timeToFirstAnswer({ args: copies.open.args }, `http://127.0.0.1:${copies.open.port}${served.paths[0]}`, true)
    twins.push(open)
    const targets: LoadTarget[] = [
      { name: 'node', port, paths: signedPaths, pids: async () => [nodePid] },
      { name: 'signed', port: copies.signed.port, paths: signedPaths, pids: async () => [signed.pid] },
      { name: 'public', port: copies.open.port, paths: served.paths, pids: async () => [open.pid] }
    ]
    if (nginx != null) targets.push({ name: 'nginx', port: nginx.port, paths: served.paths, pids: nginx.pids })
    const measured = await measureRounds(targets, { rounds, roundSeconds: seconds, connections })
    const nodeFigure = measured.get('node')!
    const signedFigure = measured.get('signed')!
    const publicFigure = measured.get('public')!
    const nginxFigure = measured.get('nginx')
    if (nodeFigure.errors > 0) throw new Error(`${nodeFigure.errors} requests to the node did not answer 200`)
    for (const copy of twins.splice(0)) await copy.stop()

    const clients = options.clients ?? 200
    const clientSeconds = options.clientSeconds ?? 30
    const clientRounds = options.clientRounds ?? 3
    const crowdMissing = await ensureCrowd(log)
    const crowdTargets = [{ name: 'node', port, paths: signedPaths }]
    if (nginx != null) crowdTargets.push({ name: 'nginx', port: nginx.port, paths: served.paths })
    const bareFilesPort = await freePort()
    const bareFiles = crowdMissing != null
      ? undefined
      : await timeToFirstAnswer({ args: ['-e', BARE_FILE_SERVER, served.root, String(bareFilesPort)] }, `http://127.0.0.1:${bareFilesPort}${served.paths[0]}`, false)
        .catch((err: unknown) => { log(`n4: no bare Node server beside the node (${(err as Error).message})`); return undefined })
    if (bareFiles != null) {
      twins.push(bareFiles)
      crowdTargets.push({ name: 'bare', port: bareFilesPort, paths: served.paths })
    }
    if (crowdMissing == null) log(`node: ${clients} concurrent clients for ${clientSeconds} s, ${clientRounds} rounds (wrk)`)
    // a crowd that could not be measured leaves n4 without a figure, and the node's other rows as they are
    let crowdFailed: string | undefined
    const crowd = crowdMissing != null ? undefined : await measureCrowd(crowdTargets, { rounds: clientRounds, clients, seconds: clientSeconds, log }).catch((err: unknown) => { crowdFailed = (err as Error).message; return undefined })
    const nodeCrowd = crowd?.figures.get('node')
    const nginxCrowd = crowd?.figures.get('nginx')
    const bareCrowd = crowd?.figures.get('bare')
    for (const copy of twins.splice(0)) await copy.stop()
    const afterLoadRss = await rssMb(nodePid)
    const crowdRatio = ratioOf(nodeCrowd?.p99Ms ?? null, nginxCrowd?.p99Ms ?? null)
    const bareRatio = ratioOf(bareCrowd?.p99Ms ?? null, nginxCrowd?.p99Ms ?? null)
    const bareNote = bareCrowd == null
      ? ''
      : `; a bare Node HTTP server with the same files in memory (Node's own floor) p99 ${crowdList(bareCrowd.rounds, r => r.p99Ms)} ms` +
        `${bareRatio == null ? '' : ` (${bareRatio.toFixed(2)}x nginx's)`}, p50 ${bareCrowd.p50Ms} ms, max ${crowdList(bareCrowd.rounds, r => r.maxMs)} ms, ${crowdList(bareCrowd.rounds, r => Math.round(r.mbPerSecond))} MB/s`
    const crowdBusy = (crowd?.othersBusyCores ?? 0) > BUSY_CORES

    const throughputRatio = ratioOf(nodeFigure.medianMbPerSecond, nginxFigure?.medianMbPerSecond ?? null)
    // a copy that refused requests measured something else: a4 is then not measured, the node's rows still are
    const refusals = signedFigure.errors + publicFigure.errors
    const twinFailed = refusals > 0 ? `not measured: ${refusals} requests to the copies did not answer 200` : undefined
    const tokenRatio = twinFailed != null ? null : ratioOf(signedFigure.medianMbPerSecond, publicFigure.medianMbPerSecond)
    const skipNote = skipped == null ? '' : `; nginx baseline skipped: ${skipped}`
    return [...startRows(afterLoadRss), {
      id: 'n3',
      figure: `CDN node: segment throughput /media/{id}/${PROFILE}/{n}.m4s`,
      value: nodeFigure.medianMbPerSecond,
      unit: 'MB/s',
      baseline: nginxFigure?.medianMbPerSecond ?? null,
      baselineLabel: 'nginx, same files',
      ratio: throughputRatio,
      goal: `>= ${THROUGHPUT_GOAL_RATIO.toFixed(2)}x nginx`,
      pass: throughputRatio == null ? null : throughputRatio >= THROUGHPUT_GOAL_RATIO,
      note: `median of ${rounds} rounds of ${seconds} s, ${connections} connections, ${served.paths.length} segments (${(served.bytes / 1e6).toFixed(1)} MB), each request with a stream token; best ${nodeFigure.mbPerSecond.toFixed(0)} MB/s${skipNote}`,
      details: { node: nodeFigure, nginx: nginxFigure }
    }, {
      id: 'a4',
      figure: 'CDN node: segment throughput with a stream token on every request',
      value: twinFailed != null ? null : signedFigure.medianMbPerSecond,
      unit: 'MB/s',
      baseline: twinFailed != null ? null : publicFigure.medianMbPerSecond,
      baselineLabel: 'a copy with public media (no check)',
      ratio: tokenRatio,
      goal: `>= ${TOKEN_THROUGHPUT_GOAL_RATIO.toFixed(2)}x`,
      pass: tokenRatio == null ? null : tokenRatio >= TOKEN_THROUGHPUT_GOAL_RATIO,
      note: twinFailed ?? `two copies of the node's folder, one checking tokens, one with public media, in n3's interleaved rounds; server CPU ${signedFigure.cpuSecondsPerGB?.toFixed(2) ?? '-'} s/GB with tokens, ${publicFigure.cpuSecondsPerGB?.toFixed(2) ?? '-'} s/GB without`,
      details: { signed: signedFigure, public: publicFigure }
    }, {
      id: 'n4',
      figure: `CDN node: ${clients} clients fetching segments for ${clientSeconds} s, p99 latency`,
      value: nodeCrowd?.p99Ms ?? null,
      unit: 'ms',
      baseline: nginxCrowd?.p99Ms ?? null,
      baselineLabel: 'nginx, same load',
      ratio: crowdRatio,
      goal: `<= ${CROWD_P99_GOAL_RATIO.toFixed(1)}x nginx p99, zero errors`,
      // without nginx only the errors can fail it
      pass: nodeCrowd == null ? null : nodeCrowd.failures > 0 ? false : crowdRatio == null ? null : crowdRatio <= CROWD_P99_GOAL_RATIO,
      note: crowd == null || nodeCrowd == null
        ? `not measured: ${crowdMissing ?? crowdFailed ?? 'no figure'}`
        : `medians of ${clientRounds} rounds of ${clientSeconds} s after 5 s of each not counted, the servers in turn (wrk, one thread, ${clients} keep-alive connections): ` +
        `node p99 ${crowdList(nodeCrowd.rounds, r => r.p99Ms)} ms, p50 ${nodeCrowd.p50Ms} ms, max ${crowdList(nodeCrowd.rounds, r => r.maxMs)} ms, ${crowdList(nodeCrowd.rounds, r => Math.round(r.mbPerSecond))} MB/s, ${nodeCrowd.failures} failed` +
        (nginxCrowd == null ? skipNote : `; nginx p99 ${crowdList(nginxCrowd.rounds, r => r.p99Ms)} ms, p50 ${nginxCrowd.p50Ms} ms, max ${crowdList(nginxCrowd.rounds, r => r.maxMs)} ms, ${crowdList(nginxCrowd.rounds, r => Math.round(r.mbPerSecond))} MB/s`) +
        bareNote +
        `; wrk's own CPU ${crowdList(nodeCrowd.rounds, r => Number(r.clientCores.toFixed(2)))} cores against the node` +
        (nginxCrowd == null ? '' : `, ${crowdList(nginxCrowd.rounds, r => Number(r.clientCores.toFixed(2)))} against nginx`) +
        `; load average ${crowdList(nodeCrowd.rounds, r => r.loadAverage)}, other work ${crowd.othersBusyCores.toFixed(2)} cores` +
        (crowdBusy ? ' (BUSY: this figure does not count)' : ''),
      details: { node: nodeCrowd, nginx: nginxCrowd, bare: bareCrowd, ...crowdBusy ? { othersBusyCores: crowd?.othersBusyCores } : {} }
    }]
  } finally {
    await node?.stop()
    for (const copy of twins) await copy.stop()
    await nginx?.stop()
    for (const dir of twinDirs) await rm(dir, { recursive: true, force: true })
    if (served != null) await rm(served.root, { recursive: true, force: true })
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** The rounds' values, in order, for a note. */
function crowdList<T> (rounds: T[], value: (round: T) => number): string {
  return rounds.map(value).join(', ')
}
