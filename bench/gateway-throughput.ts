import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { Agent, createServer, get as httpGet } from 'node:http'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { FsBlockstore } from 'blockstore-fs'
import { importBytes } from 'ipfs-unixfs-importer'
import Koa from 'koa'
import { IMPORT_OPTIONS } from '../core/ipfs/import-profile.ts'
import { silentLogger } from '../core/logger.ts'
import { errors } from '../gateway/middleware/errors.ts'
import { ipfsRoutes } from '../gateway/routes/ipfs.ts'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

/**
 * The /ipfs gateway serving HLS-sized files from blockstore-fs, against a plain Koa `fs.createReadStream`
 * of the same bytes. Each server runs in its own process so the load generator does not share its core.
 */

export interface GatewayThroughputOptions {
  /** Files served, each of a size between 0.3 and 2 MB (HLS segments). @default 50 */
  files?: number
  /** Rounds; each round loads every server in turn, so a noisy neighbour hits all of them alike. @default 5 */
  rounds?: number
  /** Seconds of load per server per round. @default 3 */
  roundSeconds?: number
  /** Keep-alive connections. @default 16 */
  connections?: number
  /** Also measure nginx (sendfile) when its binary is found. @default true */
  nginx?: boolean
}

export interface ThroughputFigure {
  /** The best round: the one least disturbed by other work on the machine. */
  mbPerSecond: number
  medianMbPerSecond: number
  requestsPerSecond: number
  /** Server CPU seconds (user + system) per GB served, median of the rounds; steadier than MB/s on a busy machine. */
  cpuSecondsPerGB?: number
  errors: number
}

export interface GatewayThroughputFigures {
  /** The /ipfs gateway with its block cache (the default 256 MiB holds every file after the warm-up). */
  gateway: ThroughputFigure
  /** The /ipfs gateway without a cache: every request reads its block files. */
  gatewayUncached: ThroughputFigure
  /** Koa serving the same bytes from plain files with fs.createReadStream. */
  fileStream: ThroughputFigure
  /** nginx serving the same files, when installed. */
  nginx?: ThroughputFigure
  /** gateway / fileStream (best rounds) */
  ratio: number
  /** gateway / nginx (best rounds), when measured */
  nginxRatio?: number
  bytes: number
}

/** One timed load on one server. */
export interface LoadRound {
  mbPerSecond: number
  requestsPerSecond: number
  errors: number
  /** Set by the caller when it can read the server's CPU time. */
  cpuSecondsPerGB?: number
}

/** CPU seconds a process has used (Linux /proc; clock ticks assumed 100 per second), undefined elsewhere. */
async function cpuSeconds (pid: number | undefined): Promise<number | undefined> {
  if (pid == null) return undefined
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

type ServerKind = 'gateway' | 'gateway-uncached' | 'files'

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']

function fileSize (i: number): number {
  // spread over 0.3-2 MB so some files are one raw leaf and some are two
  return 300_000 + ((i * 7_919_113) % 1_700_000)
}

function bytesOf (length: number, seed: string): Buffer {
  const out = Buffer.alloc(length)
  let block = createHash('sha256').update(seed).digest()
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

/** Imports `count` files into a blockstore-fs and writes the same bytes as plain files. */
async function prepare (dir: string, count: number): Promise<{ cids: string[], names: string[], bytes: number }> {
  const blockstore = new FsBlockstore(join(dir, 'blocks'))
  await blockstore.open()
  await mkdir(join(dir, 'files'), { recursive: true })
  const cids: string[] = []
  const names: string[] = []
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const content = bytesOf(fileSize(i), `segment-${i}`)
    const { cid } = await importBytes(content, blockstore, { ...IMPORT_OPTIONS })
    const name = `segment${i}.m4s`
    await writeFile(join(dir, 'files', name), content)
    cids.push(cid.toString())
    names.push(name)
    bytes += content.byteLength
  }
  return { cids, names, bytes }
}

/** Runs in the child process: one server of `kind` on 127.0.0.1, its port printed as a JSON line. */
async function serve (kind: ServerKind, dir: string): Promise<void> {
  const app = new Koa()
  // clients hanging up mid-body at the end of a run are expected: do not print them
  app.silent = true
  app.use(errors(silentLogger()))
  if (kind === 'files') {
    app.use(async ctx => {
      const name = ctx.path.slice('/files/'.length)
      if (!/^[\w.-]+$/.test(name)) return
      const path = join(dir, 'files', name)
      const { size } = await stat(path)
      ctx.type = 'video/iso.segment'
      ctx.body = createReadStream(path)
      ctx.length = size
    })
  } else {
    const blockstore = new FsBlockstore(join(dir, 'blocks'))
    await blockstore.open()
    const router = ipfsRoutes({ blockstore, logger: silentLogger() }, { cacheBytes: kind === 'gateway' ? undefined : 0 })
    app.use(router.routes())
  }
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n')
  })
}

async function startServer (kind: ServerKind, dir: string): Promise<{ port: number, child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(import.meta.url), 'serve', kind, dir], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout! })
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', line => resolve((JSON.parse(line) as { port: number }).port))
    child.once('exit', () => reject(new Error(`${kind} server exited before listening`)))
  })
  return { port, child }
}

/** `connections` keep-alive loops, each fetching the paths in turn (from its own starting point) until the deadline. */
export async function load (port: number, paths: string[], durationSeconds: number, connections: number): Promise<LoadRound> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const deadline = performance.now() + durationSeconds * 1000
  let bytes = 0
  let requests = 0
  let failures = 0
  const get = (path: string): Promise<void> => new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, agent }, res => {
      if (res.statusCode !== 200) failures++
      res.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
      res.on('end', () => { requests++; resolve() })
      res.on('error', reject)
    }).on('error', reject)
  })
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, async (_, c) => {
    for (let i = c * 7; performance.now() < deadline; i++) await get(paths[i % paths.length])
  }))
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return { mbPerSecond: bytes / seconds / 1e6, requestsPerSecond: requests / seconds, errors: failures }
}

async function startNginx (dir: string): Promise<{ port: number, child: ChildProcess } | undefined> {
  const binary = NGINX_PATHS.find(path => existsSync(path))
  if (binary == null) return undefined
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  const temp = (name: string): string => `${name}_temp_path ${join(dir, 'nginx')};`
  await mkdir(join(dir, 'nginx'), { recursive: true })
  await writeFile(conf, [
    'worker_processes 1; daemon off; master_process off;',
    `pid ${join(dir, 'nginx', 'nginx.pid')}; error_log ${join(dir, 'nginx', 'error.log')};`,
    'events { worker_connections 1024; }',
    'http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;',
    ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join(' '),
    `server { listen 127.0.0.1:${port}; root ${dir}; } }`
  ].join('\n'))
  const child = spawn(binary, ['-c', conf, '-p', join(dir, 'nginx')], { stdio: 'ignore' })
  const deadline = Date.now() + 5000
  for (;;) {
    const up = await new Promise<boolean>(resolve => {
      httpGet({ host: '127.0.0.1', port, path: '/' }, res => { res.resume(); resolve(true) }).on('error', () => resolve(false))
    })
    if (up) return { port, child }
    if (Date.now() > deadline || child.exitCode != null) {
      child.kill()
      return undefined
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

function summarise (rounds: LoadRound[]): ThroughputFigure {
  const sorted = [...rounds].sort((a, b) => b.mbPerSecond - a.mbPerSecond)
  const cpu = rounds.map(r => r.cpuSecondsPerGB).filter((c): c is number => c != null).sort((a, b) => a - b)
  return {
    mbPerSecond: sorted[0].mbPerSecond,
    medianMbPerSecond: sorted[Math.floor(sorted.length / 2)].mbPerSecond,
    requestsPerSecond: sorted[0].requestsPerSecond,
    cpuSecondsPerGB: cpu.length === 0 ? undefined : cpu[Math.floor(cpu.length / 2)],
    errors: rounds.reduce((sum, r) => sum + r.errors, 0)
  }
}

/** Measures the gateway (cached and uncached), a plain Koa file stream and nginx serving the same files. */
export async function measureGatewayThroughput (options: GatewayThroughputOptions = {}): Promise<GatewayThroughputFigures> {
  const files = options.files ?? 50
  const rounds = options.rounds ?? 5
  const roundSeconds = options.roundSeconds ?? 3
  const connections = options.connections ?? 16
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-gw-'))
  const children: ChildProcess[] = []
  try {
    const { cids, names, bytes } = await prepare(dir, files)
    const ipfsPaths = cids.map(c => `/ipfs/${c}`)
    const filePaths = names.map(n => `/files/${n}`)
    const targets: Array<{ name: keyof Omit<GatewayThroughputFigures, 'ratio' | 'nginxRatio' | 'bytes'>, port: number, paths: string[], pid?: number }> = []
    for (const [name, kind, paths] of [['fileStream', 'files', filePaths], ['gateway', 'gateway', ipfsPaths], ['gatewayUncached', 'gateway-uncached', ipfsPaths]] as const) {
      const { port, child } = await startServer(kind, dir)
      children.push(child)
      targets.push({ name, port, paths: [...paths], pid: child.pid })
    }
    const nginx = options.nginx === false ? undefined : await startNginx(dir)
    if (nginx != null) {
      children.push(nginx.child)
      targets.push({ name: 'nginx', port: nginx.port, paths: filePaths, pid: nginx.child.pid })
    }
    // warm-up: page cache, JIT, and the gateway's block cache
    for (const t of targets) await load(t.port, t.paths, 1, connections)
    const results = new Map<string, LoadRound[]>()
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const cpuBefore = await cpuSeconds(t.pid)
        const figure = await load(t.port, t.paths, roundSeconds, connections)
        const cpuAfter = await cpuSeconds(t.pid)
        if (cpuBefore != null && cpuAfter != null) figure.cpuSecondsPerGB = (cpuAfter - cpuBefore) / (figure.mbPerSecond * roundSeconds / 1000)
        results.set(t.name, [...(results.get(t.name) ?? []), figure])
      }
    }
    const figure = (name: string): ThroughputFigure => summarise(results.get(name) ?? [])
    const gateway = figure('gateway')
    const fileStream = figure('fileStream')
    const nginxFigure = results.has('nginx') ? figure('nginx') : undefined
    return {
      gateway,
      gatewayUncached: figure('gatewayUncached'),
      fileStream,
      nginx: nginxFigure,
      ratio: gateway.mbPerSecond / fileStream.mbPerSecond,
      nginxRatio: nginxFigure == null ? undefined : gateway.mbPerSecond / nginxFigure.mbPerSecond,
      bytes
    }
  } finally {
    for (const child of children) child.kill()
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'serve') {
    await serve(process.argv[3] as ServerKind, process.argv[4])
  } else {
    const figures = await measureGatewayThroughput({ rounds: Number(process.env.BENCH_ROUNDS ?? 5) })
    process.stdout.write(JSON.stringify(figures, null, 2) + '\n')
  }
}
