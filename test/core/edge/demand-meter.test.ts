import test from 'ava'
import { Registry } from 'prom-client'
import { createDemandMeter } from '../../../core/edge/demand-meter.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { ServedReport } from '../../../core/control/index.ts'

const MEDIA = '0123456789abcdef'
const ROOT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

/** A meter whose media roots are `roots` (`media/profile` -> root), changeable by the test. */
function meter (roots: Map<string, string> = new Map(), registry?: Registry): ReturnType<typeof createDemandMeter> {
  return createDemandMeter({ logger: silentLogger(), registry, rootOf: async (media, profile) => roots.get(`${media}/${profile}`) })
}

function byKey (reports: ServedReport[]): Record<string, ServedReport> {
  return Object.fromEntries(reports.map(r => [r.root ?? `${r.media ?? ''}/${r.profile ?? ''}`, r]))
}

test('answers are counted per root with bytes by source, redirects without bytes, and distinct viewers', async t => {
  const m = meter(new Map([[`${MEDIA}/360p`, ROOT]]))
  m.record({ media: MEDIA, profile: '360p', source: 'local', bytes: 1000, viewer: 'user a', at: 10 })
  m.record({ media: MEDIA, profile: '360p', source: 'origin', bytes: 300, viewer: 'user a', at: 20 })
  m.record({ root: ROOT, source: 'peer', bytes: 50, viewer: 'user b', at: 15 })
  m.record({ media: MEDIA, profile: '360p', source: 'redirect', bytes: 999, viewer: 'address 127.0.0.1', at: 30 })
  m.record({ media: MEDIA, profile: '360p', bytes: 999, viewer: 'user a', at: 40 })
  m.record({ media: MEDIA, source: 'origin', bytes: 200, viewer: 'user a', at: 5 })
  const reports = byKey(await m.take())
  t.deepEqual(reports[ROOT], { root: ROOT, requests: 5, bytes: 1350, local: 1000, peer: 50, origin: 300, redirects: 1, viewers: 3, firstAt: 10, lastAt: 40 })
  t.deepEqual(reports[`${MEDIA}/`], { media: MEDIA, requests: 1, bytes: 200, local: 0, peer: 0, origin: 200, redirects: 0, viewers: 1, firstAt: 5, lastAt: 5 }, 'the master playlist: the media alone')
})

test('an answer whose root is not known yet is counted under its media and profile, and what comes once the root is known is counted under the root', async t => {
  const roots = new Map<string, string>()
  const m = meter(roots)
  m.record({ media: MEDIA, profile: '480p', source: 'origin', bytes: 10, viewer: 'v' })
  m.record({ media: MEDIA, profile: '480p', source: 'origin', bytes: 10, viewer: 'v' })
  const first = await m.take()
  t.like(first, [{ media: MEDIA, profile: '480p', requests: 2, origin: 20 }])
  t.false('root' in first[0])
  m.acknowledge()
  // the root is learned since: what comes next is counted under it
  roots.set(`${MEDIA}/480p`, ROOT)
  m.record({ media: MEDIA, profile: '480p', source: 'local', bytes: 5, viewer: 'v' })
  t.deepEqual((await m.take()).map(r => [r.root, r.media, r.requests, r.bytes]), [[ROOT, undefined, 1, 5]])
})

test('a beat takes at most 512 entries, the largest by bytes first; the rest go with the next beat', async t => {
  const m = meter()
  const roots = Array.from({ length: 600 }, (_, i) => `bafkrei${i.toString().padStart(52, 'a')}`)
  roots.forEach((root, i) => { m.record({ root, source: 'local', bytes: 100 + i, viewer: 'v' }) })
  const first = await m.take()
  t.is(first.length, 512)
  t.deepEqual(first.map(r => r.bytes), roots.map((_, i) => 100 + i).reverse().slice(0, 512))
  m.acknowledge()
  const second = await m.take()
  t.is(second.length, 88)
  t.deepEqual([...first, ...second].map(r => r.root).sort(), [...roots].sort(), 'each root once')
  m.acknowledge()
  t.deepEqual(await m.take(), [])
  t.is(m.pending(), 0)
})

test('a failed beat sends the same batch again, with its id; what came since follows it; an acknowledged beat forgets them', async t => {
  const registry = new Registry()
  const m = meter(new Map(), registry)
  m.record({ root: ROOT, source: 'local', bytes: 100, viewer: 'a', at: 10 })
  const first = await m.take()
  t.like(first, [{ requests: 1, bytes: 100, viewers: 1 }])
  const id = m.batch()
  t.regex(id ?? '', /^[A-Za-z0-9_-]+$/)
  m.record({ root: ROOT, source: 'origin', bytes: 40, viewer: 'b', at: 20 })
  m.record({ root: ROOT, source: 'local', bytes: 1, viewer: 'a', at: 30 })
  m.restore()
  t.deepEqual(await m.take(), first, 'the same reports')
  t.is(m.batch(), id, 'under the same id: a server that took them drops the repeat')
  m.acknowledge()
  t.deepEqual(await m.take(), [{ root: ROOT, requests: 2, bytes: 41, local: 1, peer: 0, origin: 40, redirects: 0, viewers: 2, firstAt: 20, lastAt: 30 }])
  t.not(m.batch(), id)
  m.acknowledge()
  t.deepEqual(await m.take(), [], 'the next beat does not repeat them')
  t.is(m.batch(), undefined)
  const metrics = await registry.metrics()
  t.regex(metrics, /cidcast_node_served_requests_total\{source="local"\} 2/)
  t.regex(metrics, /cidcast_node_served_bytes_total\{source="origin"\} 40/)
  t.regex(metrics, /cidcast_node_served_pending 0/)
})

test('viewers are hashed, never reported as they are; the entries kept are bounded, the smallest forgotten first', async t => {
  const m = createDemandMeter({ logger: silentLogger(), rootOf: async () => undefined }, { maxEntries: 2, maxViewers: 2 })
  for (const viewer of ['user alice', 'user bob', 'user carol']) m.record({ root: ROOT, source: 'local', bytes: 10, viewer })
  m.record({ root: 'bafkreismall', source: 'local', bytes: 1, viewer: 'x' })
  m.record({ root: 'bafkreilarge', source: 'local', bytes: 1000, viewer: 'x' })
  const reports = await m.take()
  t.deepEqual(reports.map(r => r.root), ['bafkreilarge', ROOT])
  t.is(reports[1].viewers, 2, 'at most maxViewers told apart')
  t.notRegex(JSON.stringify(reports), /alice|bob|carol/)
})
