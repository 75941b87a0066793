import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fixture } from '../fixtures/media.ts'
import { bearer } from '../test/helpers/auth.ts'
import { startChild } from '../test/helpers/child.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { wholeOnServer } from './rendition.ts'
import { startBenchServer } from './server.ts'
import { median, ratioOf } from './table.ts'
import type { BenchChild } from '../test/helpers/child.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * Issue #13's last goal, row d1: from the play URL request that crosses the fallback threshold (the second distinct
 * viewer of a title through a node) to the rendition pinned on that node as an automatic copy, against a manual
 * `pin add --wait` of the same rendition to a node just like it (`POST /api/v1/replications`, then the row polled as
 * the CLI polls). All real processes: the main server (distribution on, only the fallback-viewers rule able to act)
 * and two fresh CDN nodes per round.
 */

export interface DistributionBenchOptions {
  log?: (line: string) => void
  /** Rounds; each starts two fresh nodes and alternates which of manual and automatic goes first. @default 3 */
  rounds?: number
}

const SOURCE = 'h264-aac-720p-30s'
const NODE_SCRIPT = fileURLToPath(new URL('../test/helpers/node-process.ts', import.meta.url))
/** The goal: automatic placement within this multiple of a manual pin. */
const GOAL_RATIO = 1.5
/** How often the row is polled, as `cidcast pin add --wait` polls. */
const POLL_MS = 50
const DEADLINE_MS = 120_000
/**
 * Plays alone never reach a factor (minPlays far above what the bench asks), and nothing is short of copies (min 0):
 * only the fallback-viewers rule (the second viewer through a node within the window) can place.
 */
const DISTRIBUTION = { auto: true, minPlays: 1000, min: 0, fallbackViewers: 2 }
const VIEWERS = ['bench-viewer-1', 'bench-viewer-2']

interface ReplicationRow { state: string, reason: string | null, auto: boolean }

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

async function api<T> (server: BenchServer, path: string, init: RequestInit = {}, token = server.token): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...bearer(token), ...init.headers } })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}: ${await res.text()}`)
  return await res.json() as T
}

/** Polls the node's row of `cid` every POLL_MS until it is pinned (and automatic when `auto`); throws on failure. */
async function untilPinned (server: BenchServer, cid: string, node: string, auto: boolean): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS
  for (;;) {
    const { items } = await api<{ items: ReplicationRow[] }>(server, `/api/v1/replications?cid=${cid}&node=${node}`)
    const row = items[0]
    if (row?.state === 'pinned' && (!auto || row.auto)) return
    if (row?.state === 'failed') throw new Error(`the replication to ${node} failed: ${row.reason ?? ''}`)
    if (performance.now() > deadline) throw new Error(`${cid} was not pinned on ${node} after ${DEADLINE_MS} ms (${row?.state ?? 'no row'})`)
    await sleep(POLL_MS)
  }
}

/**
 * Unpins `cid` from a node and waits until its row is gone: each round starts with the main server the only holder
 * (no provider that stopped answering, and no copies of earlier rounds counting against the title's `max`).
 */
async function unpinFrom (server: BenchServer, cid: string, node: string): Promise<void> {
  await api(server, `/api/v1/replications?cid=${cid}&node=${node}`, { method: 'DELETE' })
  const deadline = performance.now() + DEADLINE_MS
  while ((await api<{ items: ReplicationRow[] }>(server, `/api/v1/replications?cid=${cid}&node=${node}`)).items.length > 0) {
    if (performance.now() > deadline) throw new Error(`${cid} was not unpinned from ${node} after ${DEADLINE_MS} ms`)
    await sleep(POLL_MS)
  }
}

/** Waits until the node named `label` is listed online by the main server. */
async function untilOnline (server: BenchServer, label: string): Promise<void> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const { items } = await api<{ items: Array<{ label: string, state: string }> }>(server, '/api/v1/nodes')
    if (items.some(n => n.label === label && n.state === 'online')) return
    if (performance.now() > deadline) throw new Error(`node ${label} did not come online`)
    await sleep(25)
  }
}

/** A viewer asks a play URL of the media through a node: a play, as the web UI's player makes one. */
async function playThrough (server: BenchServer, token: string, node: string): Promise<void> {
  await api<{ url: string }>(server, `/api/v1/media/${server.id}/play?node=${node}`, {}, token)
}

/** The distributor's last run, as `GET /api/v1/distribution` shows it. */
async function lastRun (server: BenchServer): Promise<string | null> {
  return (await api<{ lastRunAt: string | null }>(server, '/api/v1/distribution')).lastRunAt
}

/** Makes the source's rendition whole on the main server (a player asking every segment) and gives its root. */
async function wholeRendition (server: BenchServer): Promise<string> {
  const client = newClient()
  const playlist = (await fetchOk(`${server.rendition}/index.m3u8`, client, { headers: bearer(server.token) })).body.toString()
  client.destroy()
  const segments = playlist.split('\n').filter(l => l.trim().endsWith('.m4s')).length
  return (await wholeOnServer(server, segments)).root
}

/** Row d1. */
export async function measureAutoPlacement (options: DistributionBenchOptions = {}): Promise<Row[]> {
  const log = options.log ?? (() => {})
  const rounds = options.rounds ?? 3
  const source = await fixture(SOURCE)
  const server = await startBenchServer(source, { env: { CIDCAST_DISTRIBUTION: JSON.stringify(DISTRIBUTION) } })
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-distribution-'))
  const nodes: Array<BenchChild<{ url: string }>> = []
  try {
    log(`distribution: making the ${SOURCE} rendition whole on the main server`)
    const root = await wholeRendition(server)
    const viewers: string[] = []
    for (const name of VIEWERS) {
      await api(server, '/api/v1/users', { method: 'POST', body: JSON.stringify({ name, role: 'viewer', password: 'bench-viewer-password' }) })
      viewers.push((await api<{ token: string }>(server, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: name, password: 'bench-viewer-password' }) })).token)
    }
    const manualMs: number[] = []
    const autoMs: number[] = []
    const tries: Array<{ round: number, first: 'manual' | 'auto', manualMs: number, autoMs: number }> = []
    for (let round = 1; round <= rounds; round++) {
      // fresh nodes each round: nothing held, no history with the main server's bitswap, no plays through them yet
      const labels = { manual: `bench-manual-${round}`, auto: `bench-auto-${round}` }
      for (const label of [labels.manual, labels.auto]) {
        const dataDir = await mkdtemp(join(dir, `${label}-`))
        nodes.push(await startChild<{ url: string }>(NODE_SCRIPT, [dataDir, server.url, join(server.dataDir, 'swarm.key'), '127.0.0.1:0', '', label], 60_000))
        await untilOnline(server, label)
      }
      const manual = async (): Promise<number> => {
        const started = performance.now()
        await api(server, '/api/v1/replications', { method: 'POST', body: JSON.stringify({ cid: root, node: labels.manual }) })
        await untilPinned(server, root, labels.manual, false)
        return performance.now() - started
      }
      const auto = async (): Promise<number> => {
        const before = await lastRun(server)
        await playThrough(server, viewers[0], labels.auto)
        // the first play's run is over before the second play: what is timed is the second play's own path
        const deadline = performance.now() + 30_000
        while (await lastRun(server) === before) {
          if (performance.now() > deadline) throw new Error('the distributor did not run after the first play')
          await sleep(POLL_MS)
        }
        const started = performance.now()
        await playThrough(server, viewers[1], labels.auto)
        await untilPinned(server, root, labels.auto, true)
        return performance.now() - started
      }
      const first = round % 2 === 1 ? 'manual' : 'auto'
      let m: number
      let a: number
      if (first === 'manual') {
        m = await manual()
        a = await auto()
      } else {
        a = await auto()
        m = await manual()
      }
      manualMs.push(m)
      autoMs.push(a)
      tries.push({ round, first, manualMs: m, autoMs: a })
      log(`distribution round ${round} (${first} first): manual ${m.toFixed(0)} ms, automatic ${a.toFixed(0)} ms`)
      for (const label of [labels.manual, labels.auto]) await unpinFrom(server, root, label)
      for (const node of nodes.splice(0)) await node.stop()
    }
    const value = median(autoMs)
    const baseline = median(manualMs)
    const ratio = ratioOf(value, baseline)
    return [{
      id: 'd1',
      figure: `automatic placement of the ${SOURCE} 720p rendition on a node: the second viewer's play URL request through it to the node's row pinned (auto)`,
      value,
      unit: 'ms',
      baseline,
      baselineLabel: 'manual pin add --wait of it to a like node',
      ratio,
      goal: `<= ${GOAL_RATIO}x`,
      pass: ratio == null ? null : ratio <= GOAL_RATIO,
      note: `median of ${rounds} rounds, two fresh node processes each, the order alternating (automatic ${autoMs.map(ms => ms.toFixed(0)).join(', ')} ms; manual ${manualMs.map(ms => ms.toFixed(0)).join(', ')} ms); rows polled every ${POLL_MS} ms; distribution ${JSON.stringify(DISTRIBUTION)}`,
      details: { tries, root, distribution: DISTRIBUTION }
    }]
  } finally {
    for (const node of nodes) await node.stop()
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
