import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { createHeliaLight } from 'helia'
import { fixture } from '../../../fixtures/media.ts'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { resolveFfmpeg } from '../../../core/media/ffmpeg-binary.ts'
import { fixedGrid, renditionKey } from '../../../core/media/grid.ts'
import { probe } from '../../../core/media/probe.ts'
import { planLadder } from '../../../core/media/profiles.ts'
import { createSegmentStore } from '../../../core/media/segment-store.ts'
import { createTranscoder } from '../../../core/media/transcoder.ts'
import { testDatabase } from '../../helpers/database.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { Catalog } from '../../../core/catalog/catalog.ts'
import type { TranscodeLeaseStore } from '../../../core/media/leases.ts'
import type { RenditionJob, Transcoder } from '../../../core/media/transcoder.ts'
import type { Helia } from '@helia/interface'
import type { TestFn } from 'ava'

/*
 * Two main servers on one catalog database, as far as transcoding goes: each its own catalog connection, Helia
 * blockstore, segment store and ffmpeg work folder, owners 'a' and 'b' of the catalog's transcode leases. On SQLite
 * (two connections to one file) here, on PostgreSQL in transcoder-leases.pg.test.ts.
 */

interface Server {
  catalog: Catalog
  helia: Helia
  transcoder?: Transcoder
  leases: TranscodeLeaseStore
  work: { path: string, remove: () => Promise<void> }
}

interface Context {
  a: Server
  b: Server
  /** `owner:index` of every ffmpeg session started, by either server. */
  started: string[]
  /** When each of `started` started (Date.now()). */
  startedAtMs: number[]
  completed: string[]
  job: RenditionJob
  /** Builds server `owner`'s transcoder (a store to claim leases from may stand in for the catalog's). */
  transcoder: (owner: 'a' | 'b', leases?: TranscodeLeaseStore) => Promise<Transcoder>
  remove: () => Promise<void>
}

const test = anyTest as TestFn<Context>

const FIXTURE = 'h264-aac-10s'
const LOOKAHEAD = 3

async function server (database: string): Promise<Server> {
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  const helia = createHeliaLight({})
  await helia.start()
  return { catalog, helia, leases: catalog.repositories.transcodeLeases, work: await tempDir('cidcast-work-') }
}

test.beforeEach(async t => {
  const { database, remove } = await testDatabase()
  const a = await server(database)
  const b = await server(database)
  const bin = await resolveFfmpeg()
  const input = await fixture(FIXTURE)
  const probed = await probe(bin.ffprobe, input)
  const plan = planLadder(probed).find(p => p.profile.name === '360p')
  if (plan == null) throw new Error(`no 360p for ${FIXTURE}`)
  const grid = fixedGrid(probed.durationSeconds)
  const key = renditionKey(`${FIXTURE}-${Math.random()}`, '360p', 'test')
  const job: RenditionJob = { key, input, plan: { ...plan, mode: plan.mode === 'remux' ? 'transcode' : plan.mode }, grid, pieceSegment: (s, p) => s + p }
  // the segments table points at its rendition, and the rendition at its media
  await a.catalog.upsertMedia({ id: 'm-leases', sourceCid: `bafy-${key}`, path: input, title: 'leases', durationSeconds: probed.durationSeconds, sizeBytes: 1, probe: {} })
  await a.catalog.ensureRendition({ key, mediaId: 'm-leases', profile: '360p', fingerprint: 'test', segmentCount: grid.starts.length })
  const started: string[] = []
  const startedAtMs: number[] = []
  const completed: string[] = []
  const servers = { a, b }
  const transcoder = async (owner: 'a' | 'b', leases?: TranscodeLeaseStore): Promise<Transcoder> => {
    const { catalog, helia, work } = servers[owner]
    const segments = createSegmentStore({
      unixfs: unixfs(helia),
      index: {
        getSegment: async (k, n) => await catalog.getSegment(k, n),
        putSegment: async (k, n, cid, bytes) => { await catalog.putSegment(k, n, cid, bytes) },
        getInit: async k => (await catalog.getRendition(k))?.initCid ?? undefined,
        setInit: async (k, cid) => { await catalog.setInit(k, cid) },
        forgetCid: async () => []
      }
    })
    const made = createTranscoder({
      logger: silentLogger(),
      ffmpeg: { path: bin.ffmpeg, major: bin.major },
      segments,
      workDir: work.path,
      leases: { store: leases ?? servers[owner].leases, owner },
      onSessionStart: (_job, at) => { started.push(`${owner}:${at}`); startedAtMs.push(Date.now()) },
      onComplete: async done => { completed.push(`${owner}:${done.key}`) }
    }, { maxSessions: 2, lookaheadSegments: LOOKAHEAD, leasePollMs: 50 })
    await made.start()
    servers[owner].transcoder = made
    return made
  }
  t.context = { a, b, started, startedAtMs, completed, job, transcoder, remove }
})

test.afterEach.always(async t => {
  for (const s of [t.context.a, t.context.b]) {
    await s.transcoder?.stop()
    await s.helia.stop()
    await s.catalog.stop()
    await s.work.remove()
  }
  await t.context.remove()
})

test('two servers asked for the same segment at once start ffmpeg once between them and answer the same CID', async t => {
  const { job, started, transcoder } = t.context
  const [a, b] = [await transcoder('a'), await transcoder('b')]
  const [fromA, fromB] = await Promise.all([a.segment(job, 2), b.segment(job, 2)])
  t.is(fromA.cid.toString(), fromB.cid.toString())
  t.is(started.length, 1, started.join(' '))
  t.true(started[0] === 'a:2' || started[0] === 'b:2', started[0])
})

test('a server waits for a range another server holds and takes it over once that lease runs out unrenewed', async t => {
  const { a, job, started, startedAtMs, transcoder } = t.context
  const b = await transcoder('b')
  // a holder that died (kill -9): its lease row stays, nobody renews it, no session makes its segments
  const claimedAt = Date.now()
  const dead = await a.leases.claim(job.key, 0, 'a', 1500, LOOKAHEAD)
  t.true(dead.granted)
  const segment = await b.segment(job, 1)
  t.truthy(segment.cid)
  t.deepEqual(started, ['b:1'])
  // the database's clock and ours are one machine's here: ffmpeg started only once the lease had run out
  const waitedMs = startedAtMs[0] - claimedAt
  t.true(waitedMs >= 1500, `took over after ${waitedMs} ms`)
})

test('a request waiting for another server\'s segment ends when its viewer goes away', async t => {
  const { a, b: { leases }, job, started, transcoder } = t.context
  t.true((await a.leases.claim(job.key, 0, 'a', 60_000, LOOKAHEAD)).granted)
  const refused = Promise.withResolvers<void>()
  const watched: TranscodeLeaseStore = {
    ...leases,
    claim: async (...args) => {
      const claim = await leases.claim(...args)
      if (!claim.granted) refused.resolve()
      return claim
    }
  }
  const b = await transcoder('b', watched)
  const controller = new AbortController()
  const asked = b.segment(job, 0, { signal: controller.signal })
  await refused.promise
  controller.abort(new Error('the viewer left'))
  await t.throwsAsync(asked, { message: 'the viewer left' })
  t.deepEqual(started, [])
})

test('complete() waits for the segments another server is making and hands the rendition over once all exist', async t => {
  const { job, started, completed, transcoder } = t.context
  const a = await transcoder('a')
  const b = await transcoder('b')
  await a.segment(job, 0)
  await b.complete(job)
  t.deepEqual(started, ['a:0'])
  t.true(completed.includes(`b:${job.key}`), completed.join(' '))
})

test('a server whose lease store fails still makes the segment (it could only be made twice)', async t => {
  const { job, started, transcoder } = t.context
  const failing: TranscodeLeaseStore = {
    claim: async () => { throw new Error('the database is unreachable') },
    renew: async () => { throw new Error('the database is unreachable') },
    release: async () => { throw new Error('the database is unreachable') }
  }
  const b = await transcoder('b', failing)
  const segment = await b.segment(job, 0)
  t.truthy(segment.cid)
  t.deepEqual(started, ['b:0'])
})
