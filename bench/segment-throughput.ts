import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bearer } from '../test/helpers/auth.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { withToken } from '../test/helpers/stream-url.ts'
import { measureRounds } from './load.ts'
import { ensureNginx, startNginx } from './nginx.ts'
import { measureSecondViewer, secondViewer, secondViewerRow } from './playback.ts'
import { PROFILE } from './server.ts'
import { percentile, ratioOf } from './table.ts'
import type { LoadTarget, ThroughputFigure } from './load.ts'
import type { RunningNginx } from './nginx.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * Figures 3b and 4: serving a finished rendition. The server's segments are fetched once and written out
 * under the same URL paths, so nginx serves the very same bytes at the very same paths to the same client.
 * `/media` is asked as a player asks, with its play URL's stream token on every request; `/ipfs/{cid}` (bare block
 * CIDs, which no stream token names as roots) as a signed-in API client, with the admin's API token.
 */

const THROUGHPUT_GOAL_RATIO = 0.6

export interface ServingOptions {
  /** Rounds; each loads /media, nginx and /ipfs in turn. @default 8 */
  rounds?: number
  /** Seconds of load per target per round. @default 2 */
  roundSeconds?: number
  /** Concurrent keep-alive connections. @default 32 */
  connections?: number
  /** Second-viewer tries. @default 50 */
  tries?: number
  /** Where progress lines go. */
  log?: (line: string) => void
}

interface SavedRendition {
  root: string
  /** `/media/{id}/720p/{n}.m4s` for every segment. */
  segmentPaths: string[]
  /** `/ipfs/{cid}` of the same segments (the Etag of each answer is its CID). */
  ipfsPaths: string[]
  bytes: number
}

/** Fetches the playlist, init and every segment once, as stored (read as the admin), and writes them under `root` at their URL paths. */
async function saveRendition (server: BenchServer, segments: number): Promise<SavedRendition> {
  const root = await mkdtemp(join(tmpdir(), 'cidcast-bench-www-'))
  // nginx's workers run as nobody when the bench runs as root: every folder on the way must be enterable
  await chmod(root, 0o755)
  const base = `/media/${server.id}/${PROFILE}`
  await mkdir(join(root, base), { recursive: true, mode: 0o755 })
  const client = newClient()
  const asAdmin = { headers: bearer(server.token) }
  try {
    const segmentPaths: string[] = []
    const ipfsPaths: string[] = []
    let bytes = 0
    for (const name of ['index.m3u8', 'init.mp4', ...Array.from({ length: segments }, (_, n) => `${n}.m4s`)]) {
      const res = await fetchOk(`${server.url}${base}/${name}`, client, asAdmin)
      await writeFile(join(root, base, name), res.body, { mode: 0o644 })
      if (!name.endsWith('.m4s')) continue
      const cid = /^"([a-z0-9]+)"$/i.exec(res.headers.etag ?? '')?.[1]
      if (cid == null) throw new Error(`${base}/${name} has no CID Etag`)
      segmentPaths.push(`${base}/${name}`)
      ipfsPaths.push(`/ipfs/${cid}`)
      bytes += res.body.byteLength
    }
    return { root, segmentPaths, ipfsPaths, bytes }
  } finally {
    client.destroy()
  }
}

/**
 * Figures 3b (second viewer of a finished rendition, against nginx serving the same files) and 4
 * (segment throughput of /media and /ipfs against nginx). `server` holds the complete rendition.
 */
export async function measureServing (server: BenchServer, segments: number, options: ServingOptions = {}): Promise<Row[]> {
  const rounds = options.rounds ?? 8
  const seconds = options.roundSeconds ?? 2
  const connections = options.connections ?? 32
  const tries = options.tries ?? 50
  const log = options.log ?? (() => {})
  const saved = await saveRendition(server, segments)
  let nginx: RunningNginx | undefined
  try {
    const skipped = await ensureNginx(log)
    const skipNote = skipped == null ? '' : `; nginx baseline skipped: ${skipped}`
    if (skipped != null) log(`nginx baseline skipped: ${skipped}`)
    else nginx = await startNginx(saved.root)

    const viewer = await measureSecondViewer(server, tries)
    const nginxViewer = nginx == null ? undefined : await secondViewer(`${nginx.url}/media/${server.id}/${PROFILE}`, tries)
    const nginxP50 = nginxViewer == null ? null : percentile(nginxViewer, 50)
    const rows: Row[] = [secondViewerRow('3b', 'second viewer, rendition complete (playlist+init+0), p50', viewer, { value: nginxP50, label: 'nginx, same files', samplesMs: nginxViewer }, skipNote)]

    log(`segment throughput: ${connections} keep-alive connections, ${rounds} rounds of ${seconds} s, ${segments} segments (${(saved.bytes / 1e6).toFixed(1)} MB)`)
    const serverPid = server.pid
    const signedPaths = saved.segmentPaths.map(path => withToken(path, server.streamToken))
    const targets: LoadTarget[] = [{ name: 'media', port: Number(new URL(server.url).port), paths: signedPaths, pids: async () => [serverPid] }]
    if (nginx != null) targets.push({ name: 'nginx', port: nginx.port, paths: saved.segmentPaths, pids: nginx.pids })
    targets.push({ name: 'ipfs', port: Number(new URL(server.url).port), paths: saved.ipfsPaths, headers: bearer(server.token), pids: async () => [serverPid] })
    const measured = await measureRounds(targets, { rounds, roundSeconds: seconds, connections })
    for (const [name, figure] of measured) {
      if (figure.errors > 0) throw new Error(`${figure.errors} requests to ${name} did not answer 200`)
    }
    const media = measured.get('media')!
    const ipfs = measured.get('ipfs')!
    const nginxFigure = measured.get('nginx')
    const nginxMb = nginxFigure?.medianMbPerSecond ?? null
    const details = { connections, rounds, roundSeconds: seconds, segments, segmentBytes: saved.bytes, media, nginx: nginxFigure, ipfs }
    const cpuPerGb = (f: ThroughputFigure): string => f.cpuSecondsPerGB == null ? '?' : f.cpuSecondsPerGB.toFixed(2)
    for (const [id, what, figure, credential] of [['4', `/media/{id}/${PROFILE}/{n}.m4s`, media, 'a play URL\'s stream token'], ['4b', '/ipfs/{cid} of the same segments', ipfs, 'the admin\'s API token']] as const) {
      const ratio = ratioOf(figure.medianMbPerSecond, nginxMb)
      rows.push({
        id,
        figure: `segment throughput ${what}`,
        value: figure.medianMbPerSecond,
        unit: 'MB/s',
        baseline: nginxMb,
        baselineLabel: 'nginx, same files',
        ratio,
        goal: `>= ${THROUGHPUT_GOAL_RATIO.toFixed(2)}x nginx`,
        pass: ratio == null ? null : ratio >= THROUGHPUT_GOAL_RATIO,
        note: `median of ${rounds} rounds, best ${figure.mbPerSecond.toFixed(0)} MB/s, each request with ${credential}; server ${cpuPerGb(figure)} CPU s/GB; ` +
          `client at ${(figure.clientCores ?? 0).toFixed(2)} cores` +
          (nginxFigure == null
            ? skipNote
            : `; nginx best ${nginxFigure.mbPerSecond.toFixed(0)} MB/s, ${cpuPerGb(nginxFigure)} CPU s/GB, client at ${(nginxFigure.clientCores ?? 0).toFixed(2)} cores`),
        details
      })
    }
    return rows
  } finally {
    await nginx?.stop()
    await rm(saved.root, { recursive: true, force: true })
  }
}
