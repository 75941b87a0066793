import anyTest from 'ava'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { testDatabase } from '../../helpers/database.ts'
import type { Catalog, MediaInput } from '../../../core/catalog/catalog.ts'
import type { IndexEntry } from '../../../core/catalog/content-index-repository.ts'
import type { NodeRecord } from '../../../core/catalog/node-repository.ts'
import type { TestFn } from 'ava'

interface Context {
  catalog: Catalog
  database: string
  remove: () => Promise<void>
}

const test = anyTest as TestFn<Context>

const PEER = '12D3KooWGzh8uWkvDpkLBVDTSdJ6uvZ8CW5Da2Jt3zKQdGsvW5Pd'
const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

const NODE: NodeRecord = {
  peerId: PEER,
  name: 'Édge one',
  label: 'edge-one',
  ipns: 'k51qzi5uqu5dl',
  mode: 'shared',
  url: 'http://127.0.0.1:9001',
  addresses: ['/ip4/127.0.0.1/tcp/4001'],
  capacity: { quotaBytes: 10 * 2 ** 30, usedBytes: 2 ** 30, freeBytes: 9 * 2 ** 30 },
  health: { uptimeSeconds: 5, load1: 0.25, activeStreams: 1, bytesServed: 1234, errors: 0, full: false },
  pinned: [CID],
  lastSeenMs: 1_700_000_000_123,
  revokedAtMs: null,
  owner: null,
  region: null,
  tags: [],
  version: '0.1.0',
  createdAtMs: 1_700_000_000_000,
  updatedAtMs: 1_700_000_000_123
}

const ENTRY: IndexEntry = {
  peerId: PEER,
  cid: CID,
  state: 'failed',
  wanted: 'pin',
  orderId: 'order-1',
  mediaId: 'm-0000000000001',
  profile: '720p',
  auto: true,
  blocksDone: 3,
  bytesDone: 3 * 2 ** 20,
  blocksTotal: 10,
  bytesTotal: 10 * 2 ** 20,
  error: { name: 'PinTimeoutError', message: 'no provider answered' },
  attempts: 2,
  retryAtMs: 1_700_000_060_000,
  orderedAtMs: 1_700_000_000_000,
  reportedAtMs: 1_700_000_030_000,
  progressAtMs: null,
  createdAtMs: 1_699_999_000_000,
  updatedAtMs: 1_700_000_030_000
}

const MEDIA: MediaInput = {
  id: 'm-0000000000001',
  sourceCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  path: '/videos/a.mp4',
  title: 'A',
  durationSeconds: 6,
  sizeBytes: 1000,
  probe: {}
}

// a database of the test process's dialect (repositories.pg.test.ts runs these on PostgreSQL)
test.beforeEach(async t => {
  const { database, remove } = await testDatabase()
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  t.context = { catalog, database, remove }
})

test.afterEach.always(async t => {
  await t.context.catalog.stop()
  await t.context.remove()
})

/** Stops the catalog and opens the same database again, so what is read comes from the database, not from memory. */
async function reopen (t: { context: Context }): Promise<Catalog> {
  await t.context.catalog.stop()
  t.context.catalog = createCatalog({ logger: silentLogger() }, { database: t.context.database })
  await t.context.catalog.start()
  return t.context.catalog
}

test('a node record survives a restart field for field, and a revoked one is listed for the gater', async t => {
  const { nodes } = t.context.catalog.repositories
  await nodes.put(NODE)
  await nodes.put({ ...NODE, peerId: `${PEER}x`, label: 'edge-two', health: null, lastSeenMs: null, revokedAtMs: 1_700_000_100_000, region: 'eu-west', tags: ['gpu', 'ssd'] })
  const again = (await reopen(t)).repositories.nodes
  const all = await again.all()
  t.deepEqual(all.map(n => n.label), ['edge-one', 'edge-two'])
  t.deepEqual(all[0], NODE)
  t.like(all[1], { region: 'eu-west', tags: ['gpu', 'ssd'] })
  t.is(all[1].health, null)
  t.is(all[1].revokedAtMs, 1_700_000_100_000)
  t.deepEqual(await again.revokedPeerIds(), [`${PEER}x`])
})

test('a content index row survives a restart field for field; one save writes and deletes together', async t => {
  const { contentIndex } = t.context.catalog.repositories
  const other = { ...ENTRY, cid: `${CID}2`, state: 'pinned' as const, wanted: null, error: null, retryAtMs: null }
  await contentIndex.save([ENTRY, other], [])
  await contentIndex.save([{ ...ENTRY, state: 'pinning', error: null }], [other])
  const rows = await (await reopen(t)).repositories.contentIndex.all()
  t.deepEqual(rows, [{ ...ENTRY, state: 'pinning', error: null }])
})

test('replication goals and waiting preparations are kept, replaced and forgotten', async t => {
  const { goals, preparations } = t.context.catalog.repositories
  const goal = { cid: CID, min: 1, max: 2, mediaId: MEDIA.id, profile: '720p', excluded: [PEER], createdAtMs: 1_700_000_000_000, updatedAtMs: 1_700_000_000_000 }
  await goals.put(goal)
  await goals.put({ ...goal, max: 3, updatedAtMs: 1_700_000_000_500 })
  await preparations.add(MEDIA.id, '720p', 'edge-one')
  await preparations.add(MEDIA.id, '720p', 'edge-one')
  await preparations.add(MEDIA.id, '720p', 'replicas 1:2')
  const again = (await reopen(t)).repositories
  t.deepEqual(await again.goals.all(), [{ ...goal, max: 3, updatedAtMs: 1_700_000_000_500 }])
  t.deepEqual((await again.preparations.list()).map(p => p.target), ['edge-one', 'replicas 1:2'])
  await again.preparations.remove(MEDIA.id, '720p', 'edge-one')
  t.deepEqual((await again.preparations.list()).map(p => p.target), ['replicas 1:2'])
  await again.preparations.remove(MEDIA.id, '720p')
  t.deepEqual(await again.preparations.list(), [])
  await again.goals.remove(CID)
  t.deepEqual(await again.goals.all(), [])
})

test('a root CID names the media and profile of the finished rendition that has it, and nothing else', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  const key = 'r'.repeat(64)
  await catalog.ensureRendition({ key, mediaId: MEDIA.id, profile: '720p', fingerprint: 'f', segmentCount: 1 })
  await catalog.setInit(key, 'bafkreiinit')
  await catalog.putSegment(key, 0, 'bafkreiseg0', 10)
  t.is(await catalog.repositories.renditionRoots.renditionOf(CID), undefined)
  await catalog.completeRendition(key, CID)
  t.deepEqual(await catalog.repositories.renditionRoots.renditionOf(CID), { mediaId: MEDIA.id, profile: '720p' })
})

test('repository calls before start are refused like the catalog\'s own', async t => {
  const catalog = createCatalog({ logger: silentLogger() }, { database: t.context.database })
  await t.throwsAsync(catalog.repositories.nodes.all(), { name: 'CatalogNotStartedError' })
})
