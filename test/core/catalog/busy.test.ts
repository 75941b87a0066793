import { join } from 'node:path'
import anyTest from 'ava'
import Database from 'better-sqlite3'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { createLockWaiter } from '../../../core/catalog/busy.ts'
import { CatalogBusyError } from '../../../core/catalog/errors.ts'
import { FIELD_NAMES } from '../../../core/catalog/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { lockSqlite } from '../../helpers/sqlite-locker.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { Catalog, MediaInput } from '../../../core/catalog/catalog.ts'
import type { MetadataFields } from '../../../core/catalog/index.ts'
import type { TestFn } from 'ava'

/*
 * The catalog against its SQLite file locked by another process (a real second connection holding BEGIN EXCLUSIVE,
 * test/helpers/sqlite-locker.ts): calls wait within a bound and go through once the lock goes, or fail with
 * CatalogBusyError having changed nothing.
 */

const test = anyTest as TestFn<{ database: string, remove: () => Promise<void> }>

const MEDIA: MediaInput = {
  id: '00000000000000a1',
  sourceCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  path: '/videos/locked.mp4',
  title: 'Locked',
  durationSeconds: 60,
  sizeBytes: 1000,
  probe: {}
}

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-catalog-busy-')
  t.context = { database: join(dir.path, 'catalog.sqlite'), remove: dir.remove }
})

test.afterEach.always(async t => { await t.context.remove() })

async function openCatalog (t: { context: { database: string }, teardown: (fn: () => Promise<void>) => void }, busyWaitMs: number): Promise<Catalog> {
  const catalog = createCatalog({ logger: silentLogger() }, { database: t.context.database, busyWaitMs })
  await catalog.start()
  t.teardown(async () => { await catalog.stop() })
  await catalog.upsertMedia(MEDIA)
  return catalog
}

test('a write made while another process holds the database locked goes through once the lock is released', async t => {
  const catalog = await openCatalog(t, 20_000)
  const lock = await lockSqlite(t.context.database)
  let settled = false
  const write = catalog.setProgress('alice', MEDIA.id, 42).finally(() => { settled = true })
  await waitFor(() => catalog.lockStats().waiting === 1, 10_000, 'the write to wait for the lock')
  t.false(settled, 'the write cannot finish while the lock is held')
  // a read of the library is not held up: SQLite's WAL lets readers go on beside another process's write lock
  t.is((await catalog.getMedia(MEDIA.id))?.title, 'Locked')
  await lock.release()
  await write
  t.is((await catalog.getProgress('alice', MEDIA.id))?.positionSeconds, 42)
  t.like(catalog.lockStats(), { waiting: 0, waited: 1, gaveUp: 0 })
})

test('a write locked out for longer than the bound fails with CatalogBusyError after the bound and changes nothing', async t => {
  const catalog = await openCatalog(t, 400)
  await catalog.setProgress('alice', MEDIA.id, 10)
  const lock = await lockSqlite(t.context.database)
  t.teardown(lock.release)
  const started = performance.now()
  const err = await t.throwsAsync(catalog.setProgress('alice', MEDIA.id, 42), { instanceOf: CatalogBusyError })
  const waited = performance.now() - started
  t.true(waited >= 390 && waited < 5000, `gave up after ${Math.round(waited)} ms`)
  t.is(err?.retryAfterSeconds, 5)
  t.notRegex(err?.message ?? '', /sqlite|\//i, 'the message names no file and no driver')
  await lock.release()
  t.is((await catalog.getProgress('alice', MEDIA.id))?.positionSeconds, 10)
  t.like(catalog.lockStats(), { waiting: 0, gaveUp: 1 })
  // the queue is not stuck: the next write goes through
  await catalog.setProgress('alice', MEDIA.id, 43)
  t.is((await catalog.getProgress('alice', MEDIA.id))?.positionSeconds, 43)
})

test('a metadata edit of several rows locked out fails whole, and a read queued behind it is answered when it gives up', async t => {
  const catalog = await openCatalog(t, 400)
  const metadata = catalog.repositories.metadata
  const fields = { ...Object.fromEntries(FIELD_NAMES.map(f => [f, null])), kind: 'movie', title: 'Locked', locked: [] } as unknown as MetadataFields
  await metadata.save(MEDIA.id, fields, { folder: '/videos', source: 'path' }, { actor: 'test', action: 'identify' })
  const auditBefore = await metadata.audit(MEDIA.id)
  const lock = await lockSqlite(t.context.database)
  t.teardown(lock.release)
  // the title edit writes the metadata row, the media row and an audit entry: all or nothing
  const edit = metadata.save(MEDIA.id, { ...fields, title: 'Edited' }, { folder: '/videos', source: 'path' }, { actor: 'test', action: 'edit' })
  const queued = metadata.get(MEDIA.id)
  await t.throwsAsync(edit, { instanceOf: CatalogBusyError })
  // the read queued behind the edit is answered once the edit gives up (readers are not held up by the lock, writers are)
  t.is((await queued)?.title, 'Locked')
  await lock.release()
  t.is((await metadata.get(MEDIA.id))?.title, 'Locked')
  t.is((await catalog.getMedia(MEDIA.id))?.title, 'Locked')
  t.deepEqual(await metadata.audit(MEDIA.id), auditBefore)
})

test('a call keeps meeting a locked database until its deadline, then gives up; other errors pass at once', async t => {
  const db = new Database(t.context.database)
  t.teardown(() => { db.close() })
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE t (x INTEGER)')
  const lock = await lockSqlite(t.context.database)
  t.teardown(lock.release)
  db.pragma('busy_timeout = 0')
  const insert = db.prepare('INSERT INTO t VALUES (1)')
  const waiter = createLockWaiter()
  let attempts = 0
  const started = performance.now()
  await t.throwsAsync(waiter.run(async () => { attempts++; return insert.run() }, started + 300), { instanceOf: CatalogBusyError })
  t.true(performance.now() - started >= 300)
  t.true(attempts > 3, `${attempts} attempts`)
  t.deepEqual(waiter.stats(), { waiting: 0, waited: 1, gaveUp: 1 })

  attempts = 0
  await t.throwsAsync(waiter.run(async () => { attempts++; throw new RangeError('not a lock') }, performance.now() + 300), { instanceOf: RangeError })
  t.is(attempts, 1)
  // a deadline already passed still gets one attempt: a lock gone by then costs the caller nothing
  await lock.release()
  t.is(await waiter.run(async () => insert.run().changes, performance.now() - 1), 1)
})
