import anyTest from 'ava'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { testDatabase } from '../../helpers/database.ts'
import type { Catalog, MediaInput, RenditionInput } from '../../../core/catalog/catalog.ts'
import type { TestFn } from 'ava'

interface Context {
  catalog: Catalog
  database: string
  remove: () => Promise<void>
}

const test = anyTest as TestFn<Context>

const MEDIA: MediaInput = {
  id: 'm-0000000000001',
  sourceCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  path: '/videos/big-buck-bunny.mp4',
  title: 'Big Buck Bunny',
  durationSeconds: 596.458333,
  sizeBytes: 5_510_872_000,
  probe: { container: 'mov,mp4', video: { codec: 'h264', width: 1920, height: 1080 }, audio: [{ codec: 'aac' }] }
}

const RENDITION: RenditionInput = {
  key: 'r'.repeat(64),
  mediaId: MEDIA.id,
  profile: '720p',
  fingerprint: 'x264-veryfast-5.1',
  segmentCount: 3
}

function openCatalog (database: string): Catalog {
  return createCatalog({ logger: silentLogger() }, { database })
}

// a database of the test process's dialect (catalog.pg.test.ts runs these on PostgreSQL)
test.beforeEach(async t => {
  const { database, remove } = await testDatabase()
  const catalog = openCatalog(database)
  await catalog.start()
  t.context = { catalog, database, remove }
})

test.afterEach.always(async t => {
  await t.context.catalog.stop()
  await t.context.remove()
})

test('upserting the same source twice keeps one row and refreshes its path', async t => {
  const { catalog } = t.context
  const first = await catalog.upsertMedia(MEDIA)
  t.true(first.created)
  const second = await catalog.upsertMedia({ ...MEDIA, path: '/moved/bbb.mp4', title: 'ignored' })
  t.false(second.created)
  t.is(second.media.id, MEDIA.id)
  t.is(second.media.path, '/moved/bbb.mp4')
  t.is(second.media.title, MEDIA.title)
  t.true(second.media.updatedAt > first.media.updatedAt)
  t.deepEqual(second.media.createdAt, first.media.createdAt)
  t.is((await catalog.listMedia()).length, 1)

  const stored = await catalog.getMediaBySourceCid(MEDIA.sourceCid)
  t.deepEqual(stored, second.media)
  t.deepEqual(stored?.probe, MEDIA.probe)
  t.is(stored?.sizeBytes, 5_510_872_000)
  t.is(stored?.durationSeconds, 596.458333)
  t.is(await catalog.getMedia('nope'), undefined)
})

test('media are listed newest first, a page at a time', async t => {
  const { catalog } = t.context
  for (let n = 1; n <= 5; n++) {
    await catalog.upsertMedia({ ...MEDIA, id: `m${n}`, sourceCid: `bafy-source-${n}` })
  }
  t.deepEqual((await catalog.listMedia()).map(media => media.id), ['m5', 'm4', 'm3', 'm2', 'm1'])
  t.deepEqual((await catalog.listMedia({ limit: 2, offset: 1 })).map(media => media.id), ['m4', 'm3'])
})

test('media are listed in natural title order and counted; without metadata they count as other', async t => {
  const { catalog } = t.context
  for (const [n, title] of ['Movie 10', 'The Movie 9', 'movie 2', 'Émile'].entries()) {
    await catalog.upsertMedia({ ...MEDIA, id: `m${n}`, sourceCid: `bafy-source-${n}`, title })
  }
  const titles = async (options: Parameters<Catalog['listMedia']>[0]): Promise<string[]> => (await catalog.listMedia(options)).map(media => media.title)
  t.deepEqual(await titles({ sort: 'title' }), ['Émile', 'movie 2', 'The Movie 9', 'Movie 10'])
  t.deepEqual(await titles({ sort: 'title', order: 'desc', limit: 2, offset: 1 }), ['The Movie 9', 'movie 2'])
  t.deepEqual(await titles({ limit: 0 }), [])
  t.is(await catalog.countMedia(), 4)
  t.is(await catalog.countMedia({ kind: 'other' }), 4, 'nothing identified them yet')
  t.is(await catalog.countMedia({ kind: 'movie' }), 0)
})

test('ensuring a rendition twice returns the same pending rendition', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  const first = await catalog.ensureRendition(RENDITION)
  const second = await catalog.ensureRendition({ ...RENDITION, segmentCount: 99 })
  t.deepEqual(second, first)
  t.is(first.state, 'pending')
  t.is(first.segmentCount, 3)
  t.is(first.initCid, null)
  t.is(first.root, null)
  t.deepEqual(await catalog.listRenditions(MEDIA.id), [first])
})

test('a rendition of an unknown media is refused', async t => {
  await t.throwsAsync(t.context.catalog.ensureRendition(RENDITION), { name: 'MediaNotFoundError' })
})

test('a segment keeps its first CID and the rendition becomes partial', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await catalog.putSegment(RENDITION.key, 2, 'bafy-seg-2', 2000)
  await catalog.putSegment(RENDITION.key, 0, 'bafy-seg-0', 1000)
  await catalog.putSegment(RENDITION.key, 0, 'bafy-other', 1)

  t.deepEqual(await catalog.getSegment(RENDITION.key, 0), { cid: 'bafy-seg-0', bytes: 1000 })
  t.is(await catalog.getSegment(RENDITION.key, 1), undefined)
  t.is(await catalog.countSegments(RENDITION.key), 2)
  t.deepEqual(await catalog.listSegments(RENDITION.key), [
    { index: 0, cid: 'bafy-seg-0', bytes: 1000 },
    { index: 2, cid: 'bafy-seg-2', bytes: 2000 }
  ])
  t.is((await catalog.getRendition(RENDITION.key))?.state, 'partial')
})

test('a segment outside the rendition or of an unknown rendition is refused', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await t.throwsAsync(catalog.putSegment(RENDITION.key, 3, 'bafy', 1), { instanceOf: RangeError })
  await t.throwsAsync(catalog.putSegment(RENDITION.key, -1, 'bafy', 1), { instanceOf: RangeError })
  await t.throwsAsync(catalog.putSegment('unknown', 0, 'bafy', 1), { name: 'RenditionNotFoundError' })
  await t.throwsAsync(catalog.setInit('unknown', 'bafy'), { name: 'RenditionNotFoundError' })
  t.is(await catalog.countSegments(RENDITION.key), 0)
})

test('completing a rendition with a missing segment or init is refused and leaves it incomplete', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await catalog.putSegment(RENDITION.key, 0, 'bafy-seg-0', 1000)
  await catalog.putSegment(RENDITION.key, 2, 'bafy-seg-2', 1000)
  await catalog.setInit(RENDITION.key, 'bafy-init')

  const error = await t.throwsAsync(catalog.completeRendition(RENDITION.key, 'bafy-root'), { name: 'IncompleteRenditionError' })
  t.regex(error?.message ?? '', /first 1/)
  let rendition = await catalog.getRendition(RENDITION.key)
  t.is(rendition?.state, 'partial')
  t.is(rendition?.root, null)

  await catalog.putSegment(RENDITION.key, 1, 'bafy-seg-1', 1000)
  await catalog.completeRendition(RENDITION.key, 'bafy-root')
  rendition = await catalog.getRendition(RENDITION.key)
  t.is(rendition?.state, 'complete')
  t.is(rendition?.root, 'bafy-root')
  t.is(rendition?.initCid, 'bafy-init')
})

test('a lost segment is forgotten with its rendition\'s completeness, and the rendition completes again once it is made', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await catalog.ensureRendition({ ...RENDITION, key: 's'.repeat(64), profile: '360p' })
  for (let index = 0; index < RENDITION.segmentCount; index++) await catalog.putSegment(RENDITION.key, index, `bafy-seg-${index}`, 1000)
  await catalog.setInit(RENDITION.key, 'bafy-init')
  await catalog.completeRendition(RENDITION.key, 'bafy-root')
  // the same bytes in another rendition (as its init) are lost with it
  await catalog.setInit('s'.repeat(64), 'bafy-seg-1')

  t.deepEqual((await catalog.repositories.lostSegments.forget('bafy-seg-1')).sort(), ['r'.repeat(64), 's'.repeat(64)])
  t.like(await catalog.getRendition(RENDITION.key), { state: 'partial', root: null, initCid: 'bafy-init' })
  t.is(await catalog.getSegment(RENDITION.key, 1), undefined)
  t.is((await catalog.getRendition('s'.repeat(64)))?.initCid, null)
  t.deepEqual(await catalog.repositories.lostSegments.forget('bafy-unknown'), [])

  await catalog.putSegment(RENDITION.key, 1, 'bafy-seg-1-again', 1000)
  await catalog.completeRendition(RENDITION.key, 'bafy-root-2')
  t.like(await catalog.getRendition(RENDITION.key), { state: 'complete', root: 'bafy-root-2' })
})

test('completing a rendition without its init segment is refused', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  for (let index = 0; index < RENDITION.segmentCount; index++) {
    await catalog.putSegment(RENDITION.key, index, `bafy-seg-${index}`, 1000)
  }
  await t.throwsAsync(catalog.completeRendition(RENDITION.key, 'bafy-root'), { name: 'IncompleteRenditionError', message: /init segment/ })
  t.is((await catalog.getRendition(RENDITION.key))?.state, 'partial')
})

test('a write queued behind a refused completion is kept', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  const [completion, put] = await Promise.allSettled([
    catalog.completeRendition(RENDITION.key, 'bafy-root'),
    catalog.putSegment(RENDITION.key, 0, 'bafy-seg-0', 1000)
  ])
  t.is(completion.status, 'rejected')
  t.is(put.status, 'fulfilled')
  t.deepEqual(await catalog.getSegment(RENDITION.key, 0), { cid: 'bafy-seg-0', bytes: 1000 })
})

test('playback progress round-trips and lists the most recent first', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.upsertMedia({ ...MEDIA, id: 'm2', sourceCid: 'bafy-source-2' })
  await catalog.setProgress('alice', MEDIA.id, 12.5)
  await catalog.setProgress('alice', 'm2', 3)
  await catalog.setProgress('bob', 'm2', 1)
  await catalog.setProgress('alice', MEDIA.id, 42.25)

  const progress = await catalog.getProgress('alice', MEDIA.id)
  t.is(progress?.positionSeconds, 42.25)
  t.true(progress?.updatedAt instanceof Date)
  t.deepEqual((await catalog.listProgress('alice')).map(p => [p.mediaId, p.positionSeconds]), [[MEDIA.id, 42.25], ['m2', 3]])
  t.is(await catalog.getProgress('carol', MEDIA.id), undefined)
  await t.throwsAsync(catalog.setProgress('alice', 'unknown', 1), { name: 'MediaNotFoundError' })
  await t.throwsAsync(catalog.setProgress('alice', MEDIA.id, -1), { name: 'InvalidRequestError' })
})

test('data survives a stop and a start', async t => {
  const { catalog, database } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await catalog.putSegment(RENDITION.key, 1, 'bafy-seg-1', 1234)
  await catalog.setProgress('alice', MEDIA.id, 7)
  await catalog.stop()

  const reopened = openCatalog(database)
  await reopened.start()
  try {
    t.is((await reopened.getMedia(MEDIA.id))?.title, MEDIA.title)
    t.is((await reopened.getRendition(RENDITION.key))?.state, 'partial')
    t.deepEqual(await reopened.getSegment(RENDITION.key, 1), { cid: 'bafy-seg-1', bytes: 1234 })
    t.is((await reopened.getProgress('alice', MEDIA.id))?.positionSeconds, 7)
  } finally {
    await reopened.stop()
  }
  await catalog.start()
  t.is((await catalog.listMedia()).length, 1)
})

test('deleting a media deletes its renditions, segments and progress', async t => {
  const { catalog } = t.context
  await catalog.upsertMedia(MEDIA)
  await catalog.ensureRendition(RENDITION)
  await catalog.putSegment(RENDITION.key, 0, 'bafy-seg-0', 1000)
  await catalog.setInit(RENDITION.key, 'bafy-init')
  await catalog.setProgress('alice', MEDIA.id, 5)

  t.true(await catalog.deleteMedia(MEDIA.id))
  t.false(await catalog.deleteMedia(MEDIA.id))
  t.is(await catalog.getMedia(MEDIA.id), undefined)
  t.is(await catalog.getRendition(RENDITION.key), undefined)
  t.is(await catalog.getSegment(RENDITION.key, 0), undefined)
  t.is(await catalog.countSegments(RENDITION.key), 0)
  t.deepEqual(await catalog.listProgress('alice'), [])
})

test('a stopped catalog refuses calls', async t => {
  const { catalog } = t.context
  await catalog.stop()
  await t.throwsAsync(catalog.getMedia(MEDIA.id), { name: 'CatalogNotStartedError' })
  await t.throwsAsync(catalog.getSegment(RENDITION.key, 0), { name: 'CatalogNotStartedError' })
  await t.throwsAsync(catalog.upsertMedia(MEDIA), { name: 'CatalogNotStartedError' })
})
