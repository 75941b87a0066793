import { createReadStream } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FsBlockstore } from 'blockstore-fs'
import { importBytes } from 'ipfs-unixfs-importer'
import Koa from 'koa'
import { IMPORT_OPTIONS } from '../core/ipfs/index.ts'
import { silentLogger } from '../core/logger.ts'
import { errors } from '../gateway/middleware/errors.ts'
import { ipfsRoutes } from '../gateway/routes/ipfs.ts'
import { bytesOf } from '../test/helpers/bytes.ts'
import { announceReady, startChild } from '../test/helpers/child.ts'
import { measureRounds } from './load.ts'
import { ensureNginx, startNginx } from './nginx.ts'
import type { BenchChild } from '../test/helpers/child.ts'
import type { LoadTarget, ThroughputFigure } from './load.ts'
import type { RunningNginx } from './nginx.ts'
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

type ServerKind = 'gateway' | 'gateway-uncached' | 'files'

function fileSize (i: number): number {
  // spread over 0.3-2 MB so some files are one raw leaf and some are two
  return 300_000 + ((i * 7_919_113) % 1_700_000)
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

/** Runs in the child process: one server of `kind` on 127.0.0.1, its port announced to the parent. */
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
    announceReady({ port: (server.address() as AddressInfo).port })
  })
}

async function startServer (kind: ServerKind, dir: string): Promise<BenchChild<{ port: number }>> {
  return await startChild<{ port: number }>(fileURLToPath(import.meta.url), ['serve', kind, dir])
}

/** Measures the gateway (cached and uncached), a plain Koa file stream and nginx serving the same files. */
export async function measureGatewayThroughput (options: GatewayThroughputOptions = {}): Promise<GatewayThroughputFigures> {
  const files = options.files ?? 50
  const rounds = options.rounds ?? 5
  const roundSeconds = options.roundSeconds ?? 3
  const connections = options.connections ?? 16
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-gw-'))
  // nginx's workers run as nobody when the bench runs as root: they must be able to enter the folder
  await chmod(dir, 0o755)
  const children: Array<BenchChild<{ port: number }>> = []
  let nginx: RunningNginx | undefined
  try {
    const { cids, names, bytes } = await prepare(dir, files)
    const ipfsPaths = cids.map(c => `/ipfs/${c}`)
    const filePaths = names.map(n => `/files/${n}`)
    const targets: LoadTarget[] = []
    for (const [name, kind, paths] of [['fileStream', 'files', filePaths], ['gateway', 'gateway', ipfsPaths], ['gatewayUncached', 'gateway-uncached', ipfsPaths]] as const) {
      const server = await startServer(kind, dir)
      children.push(server)
      const pid = server.child.pid!
      targets.push({ name, port: server.ready.port, paths: [...paths], pids: async () => [pid] })
    }
    if (options.nginx !== false && await ensureNginx(() => {}) == null) {
      nginx = await startNginx(dir)
      targets.push({ name: 'nginx', port: nginx.port, paths: filePaths, pids: nginx.pids })
    }
    const results = await measureRounds(targets, { rounds, roundSeconds, connections })
    const figure = (name: string): ThroughputFigure => {
      const found = results.get(name)
      if (found == null) throw new Error(`no figure for ${name}`)
      return found
    }
    const gateway = figure('gateway')
    const fileStream = figure('fileStream')
    const nginxFigure = results.get('nginx')
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
    await Promise.all(children.map(async c => { await c.stop() }))
    await nginx?.stop()
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
