import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fixture } from '../fixtures/media.ts'
import { startChild } from '../test/helpers/child.ts'
import { api, clusterInfo, startPair } from '../test/helpers/cluster.ts'
import { tempDir, waitFor } from '../test/helpers/tmp.ts'
import type { Row } from './table.ts'

/*
 * Issue 15's failover figures (rows f1, f2): two main servers on one PostgreSQL catalog (the test helpers' server) and
 * a CDN node holding a title, a viewer playing it through the node with a play URL signed before. The leader is killed
 * with SIGKILL; f1 is the time until the other server leads (its schedulers running), polled every 25 ms, against one
 * cluster beat (the interval at which a server tries the lock: the floor of a failover); f2 counts the viewer's failed
 * requests from the kill until 10 s after the new leader took over.
 */

const NODE = fileURLToPath(new URL('../test/helpers/node-process.ts', import.meta.url))
const PROFILE = '480p'
const BEAT_MS = 2000
const AFTER_MS = 10_000

/** Rows f1 and f2. */
export async function measureFailover (options: { log: (line: string) => void }): Promise<Row[]> {
  const dir = await tempDir('cidcast-bench-failover-')
  const { a, b, swarmKey } = await startPair(dir.path)
  const node = await startChild<{ url: string }>(NODE, [join(dir.path, 'node'), a.ready.url, swarmKey, '127.0.0.1:0', '', 'failover edge'], 60_000)
  try {
    const token = a.ready.token
    await waitFor(async () => (await api<{ items: Array<{ label: string, state: string }> }>(a, token, 'GET', '/api/v1/nodes?all=1')).items.some(n => n.label === 'failover-edge' && n.state === 'online'), 30_000, 'the node to register')
    const { id } = await api<{ id: string }>(a, token, 'POST', '/api/v1/media', { path: await fixture('h264-aac-720p-30s') })
    await api(a, token, 'POST', '/api/v1/replications', { media: id, node: 'failover-edge', profile: PROFILE })
    await waitFor(async () => (await api<{ items: Array<{ state: string }> }>(a, token, 'GET', `/api/v1/replications?media=${id}&node=failover-edge`)).items.some(r => r.state === 'pinned'), 120_000, 'the node to hold the title')
    const play = await api<{ url: string }>(a, token, 'GET', `/api/v1/media/${id}/play?node=failover-edge`)
    const master = new URL(play.url)
    const query = master.search
    const base = master.href.replace(/\/master\.m3u8.*$/, '')
    const files = [`${base}/master.m3u8${query}`, `${base}/${PROFILE}/index.m3u8${query}`, `${base}/${PROFILE}/init.mp4${query}`]
    for (let n = 0; n < 15; n++) files.push(`${base}/${PROFILE}/${n}.m4s${query}`)

    let requests = 0
    let failed = 0
    const playing = { on: true }
    const viewer = (async () => {
      for (let i = 0; playing.on; i = (i + 1) % files.length) {
        requests++
        try {
          const res = await fetch(files[i])
          await res.arrayBuffer()
          if (res.status !== 200) failed++
        } catch {
          failed++
        }
      }
    })()
    options.log('failover: killing the leader while a viewer plays through the node')
    const killedAt = performance.now()
    a.child.kill('SIGKILL')
    await waitFor(async () => (await clusterInfo(b)).leader, 60_000, 'the other server to lead')
    const tookMs = performance.now() - killedAt
    await new Promise(resolve => setTimeout(resolve, AFTER_MS))
    playing.on = false
    await viewer
    return [{
      id: 'f1',
      figure: 'failover: leader killed (SIGKILL) -> the other server leads, its schedulers running',
      value: tookMs,
      unit: 'ms',
      baseline: BEAT_MS,
      baselineLabel: 'one cluster beat (how often a server tries the lock)',
      ratio: tookMs / BEAT_MS,
      goal: '<= 30 s',
      pass: tookMs <= 30_000
    }, {
      id: 'f2',
      figure: `failover: a viewer playing through a node, failed requests from the kill to ${AFTER_MS / 1000} s after`,
      value: failed,
      unit: 'requests',
      baseline: null,
      baselineLabel: `of ${requests} made`,
      ratio: null,
      goal: '0 failed',
      pass: failed === 0
    }]
  } finally {
    await Promise.all([node.stop(), a.stop(), b.stop()])
    await dir.remove()
  }
}
