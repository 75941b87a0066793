import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { startChild } from '../helpers/child.ts'
import { assertWhole, fetchFile, playRendition } from '../helpers/content-check.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { streamTokenFromKeyFile, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ReplicationView } from '../../core/replication/index.ts'

/*
 * Fault: the main server frozen with SIGSTOP for longer than a node's heartbeat timeout, then resumed with
 * SIGCONT. The main server runs in its own process (the signal must not stop the node); the node runs here.
 * During the freeze the node serves what it holds (stream tokens are checked offline) and a miss fails with a
 * clear error within a bound; after the resume the main server marks the node offline, then online again when it
 * registers by itself, its pin is still pinned and the library is whole. No restart, no hand.
 */

const SERVER = fileURLToPath(new URL('../helpers/server-process.ts', import.meta.url))
const HEARTBEAT_SECONDS = 1
/** Past the main server's offline mark (3 missed beats and half a beat) with room to spare. */
const FROZEN_AT_LEAST_MS = 5000

interface LogLine { msg?: string, label?: string, state?: string, time?: number }

test('a main server frozen with SIGSTOP past the heartbeat timeout and resumed loses nothing: the node serves what it holds meanwhile and both recover by themselves', async t => {
  const dir = await tempDir('cidcast-fault-frozen-')
  const data = join(dir.path, 'server')
  const log: LogLine[] = []
  const main = await startChild<{ url: string, token: string }>(SERVER, [data], 60_000, {
    env: { CIDCAST_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS), BENCH_SERVER_LOG_LEVEL: 'info' },
    onLine: line => { try { log.push(JSON.parse(line) as LogLine) } catch {} }
  })
  const running: Array<{ stop: () => Promise<void> }> = []
  t.teardown(async () => {
    for (const part of running.reverse()) await part.stop().catch(() => {})
    main.child.kill('SIGCONT')
    await main.stop()
    await dir.remove()
  })
  const { url } = main.ready
  const auth = bearer(main.ready.token)
  const api = async <T> (path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(url + path, { ...init, headers: { 'Content-Type': 'application/json', ...auth } })
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`)
    return await res.json() as T
  }

  // a finished 360p rendition, pinned on the node
  const { id } = await api<{ id: string }>('/api/v1/media', { method: 'POST', body: JSON.stringify({ path: await fixture('odd-854x480-6s') }) })
  const made = await playRendition(`${url}/media/${id}/360p/index.m3u8`, auth)
  assertWhole(t, made, 'the main server')
  const root = await waitFor(async () => (await api<{ renditions: Array<{ profile: string, root: string | null }> }>(`/api/v1/media/${id}`)).renditions.find(r => r.profile === '360p')?.root ?? undefined, 30_000, '360p to be complete')
  const node = await registeredNode({ dir: dir.path, running }, url, 'steady', { heartbeatSeconds: HEARTBEAT_SECONDS })
  await api('/api/v1/replications', { method: 'POST', body: JSON.stringify({ media: id, node: 'steady', profile: '360p' }) })
  const pinned = async (): Promise<ReplicationView | undefined> => (await api<{ items: ReplicationView[] }>(`/api/v1/replications?media=${id}`)).items.find(r => r.node.name === 'steady' && r.cid === root && r.state === 'pinned')
  await waitFor(pinned, 30_000, 'the pin on the node')
  const token = await streamTokenFromKeyFile(data, id, { roots: [root] })
  // a viewer plays it through the node once: the node keeps the playlists (a node playing a pinned title it never
  // served while the main server is away is another change's work: pins that carry the playlists)
  const before = await playRendition(withToken(`${node.url}/media/${id}/360p/index.m3u8`, token))
  t.deepEqual(before.map(f => f.cid), made.map(f => f.cid))

  main.child.kill('SIGSTOP')
  const frozenAt = Date.now()
  // a miss needs the main server: it must fail clearly, and in bounded time, not hang
  const miss = (async () => {
    const started = Date.now()
    const answer = await fetchFile(withToken(`${node.url}/media/${id}/480p/0.m4s`, token))
    return { answer, ms: Date.now() - started }
  })()
  await waitFor(() => node.status().state === 'retrying', 10_000, 'the node to notice its heartbeats go unanswered')
  const served = await playRendition(withToken(`${node.url}/media/${id}/360p/index.m3u8`, token))
  assertWhole(t, served, 'the node during the freeze')
  t.deepEqual(served.map(f => f.cid), made.map(f => f.cid), 'the same bytes the main server made')
  const { answer, ms } = await miss
  t.log(`the miss during the freeze: ${answer.status} ${answer.error?.error ?? ''} after ${ms} ms`)
  t.true(answer.status === 502 || answer.status === 504, `status ${answer.status}`)
  t.truthy(answer.error?.message)
  // the rendition roots asked first get no answer within the API's 5 s: the miss fails then, not after 30 s more
  t.true(ms < 12_000, `answered within the API deadline, not the content one (${ms} ms)`)
  await waitFor(() => Date.now() - frozenAt >= FROZEN_AT_LEAST_MS, FROZEN_AT_LEAST_MS + 1000, 'the freeze to outlast the heartbeat timeout')
  const registrations = node.status().registrations

  const resumedAt = Date.now()
  main.child.kill('SIGCONT')
  await waitFor(() => node.status().state === 'registered' && node.status().registrations > registrations, 30_000, 'the node to register again by itself')
  // the main server saw the beats stop (it marks the node offline when it wakes), then the node come back
  const states = (): string[] => log.filter(l => l.label === 'steady' && (l.msg === 'node offline' || l.msg === 'node online' || l.msg === 'node registered')).map(l => l.msg ?? '')
  await waitFor(() => states().includes('node registered') && states().lastIndexOf('node offline') > -1, 10_000, `the server's log of the node (${states().join(', ')})`)
  const nodes = await waitFor(async () => {
    const list = await api<{ items: Array<{ name: string, state: string, lastSeen: string }> }>('/api/v1/nodes')
    const steady = list.items.find(n => n.name === 'steady')
    return steady?.state === 'online' && Date.parse(steady.lastSeen) >= resumedAt - 1000 && steady
  }, 10_000, 'the node online with a beat after the resume')
  t.is(nodes.state, 'online')

  // nothing lost: the pin is still pinned and reachable, the main server still plays the rendition it made
  t.like(await waitFor(pinned, 10_000, 'the pin still pinned'), { reachable: true })
  t.deepEqual((await playRendition(`${url}/media/${id}/360p/index.m3u8`, auth)).map(f => f.cid), made.map(f => f.cid))
  // and the miss that failed during the freeze is served now
  const again = await fetchFile(withToken(`${node.url}/media/${id}/480p/0.m4s`, await streamTokenFromKeyFile(data, id)))
  assertWhole(t, [again], 'the miss after the resume')
})
