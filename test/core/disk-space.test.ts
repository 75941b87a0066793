import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import Database from 'better-sqlite3'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { asDiskFull, createDiskSpace, diskFullError, isOutOfSpace, outOfSpaceReason } from '../../core/disk-space.ts'
import { manualClock } from '../helpers/clock.ts'
import { mountTmpfs, requireRoot } from '../helpers/tmpfs.ts'
import type { Tmpfs } from '../helpers/tmpfs.ts'
import type { TestFn } from 'ava'

/*
 * Out of space as each part meets it, for real: a write into a full tmpfs (ENOSPC), blockstore-fs's PutFailedError
 * (whose message is all that is left of the ENOSPC), SQLite's SQLITE_FULL; and the disk watch /healthz reads.
 */

const test = anyTest as TestFn<{ disk: Tmpfs }>

test.before(async t => {
  requireRoot('the disk-space tests')
  t.context.disk = await mountTmpfs(4 * 1024 * 1024)
})

test.after.always(async t => { await t.context.disk?.unmount() })

test.afterEach.always(async t => { await t.context.disk.unfill() })

async function rawBlock (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

test.serial('a write into a full disk, a block blockstore-fs cannot store and a full SQLite database all read as out of space', async t => {
  const { disk } = t.context
  await disk.fill()
  const written = await t.throwsAsync(writeFile(join(disk.path, 'more'), Buffer.alloc(64 * 1024)))
  t.is(outOfSpaceReason(written), 'no space left on device')

  const blocks = new FsBlockstore(join(disk.path, 'blocks'))
  const bytes = Buffer.alloc(256 * 1024, 7)
  const stored = await t.throwsAsync(async () => { await blocks.put(await rawBlock(bytes), bytes) })
  t.is(stored?.name, 'PutFailedError')
  t.is(outOfSpaceReason(stored), 'no space left on device')

  // SQLite says the same of a database at its page limit as of a full disk
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (x BLOB)')
  db.pragma('max_page_count = 8')
  const full = t.throws(() => { for (let i = 0; i < 100; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096)) })
  db.close()
  t.is((full as { code?: string }).code, 'SQLITE_FULL')
  t.is(outOfSpaceReason(full), 'database or disk is full')
  // TypeORM keeps the driver's error as driverError, with its text in the message
  t.is(outOfSpaceReason({ name: 'QueryFailedError', message: 'query failed', driverError: full }), 'database or disk is full')
})

test('a quota, ffmpeg\'s words and causes are recognised; other failures are not out of space', t => {
  t.is(outOfSpaceReason(Object.assign(new Error('write failed'), { code: 'EDQUOT' })), 'disk quota exceeded')
  // PostgreSQL's disk_full SQLSTATE on node-postgres's error, inside TypeORM's QueryFailedError
  const pgFull = Object.assign(new Error('could not extend file "base/16384/2619": wrote only 4096 of 8192 bytes'), { code: '53100' })
  t.is(outOfSpaceReason({ name: 'QueryFailedError', message: 'query failed', driverError: pgFull }), 'database or disk is full')
  t.is(outOfSpaceReason(new Error('[hls @ 0x55] Failed to write segment: No space left on device')), 'no space left on device')
  t.is(outOfSpaceReason(new Error('storing a segment failed', { cause: new AggregateError([new Error('other'), Object.assign(new Error('x'), { code: 'ENOSPC' })]) })), 'no space left on device')
  for (const other of [new Error('ffmpeg ended (code 1)'), Object.assign(new Error('denied'), { code: 'EACCES' }), Object.assign(new Error('locked'), { code: 'SQLITE_BUSY' }), undefined, 'ENOSPC']) {
    t.false(isOutOfSpace(other), String(other))
  }
  const unrelated = new Error('database file is corrupt')
  t.is(asDiskFull(unrelated, 'writing'), unrelated)
})

test('a DiskFullError says what was not done and why, never the driver\'s name, and keeps the original as its cause', t => {
  const original = Object.assign(new Error('SqliteError: database or disk is full'), { code: 'SQLITE_FULL' })
  const err = diskFullError(original, 'making segment 3 of 360p')
  t.is(err.name, 'DiskFullError')
  t.is(err.message, 'making segment 3 of 360p failed: out of space (database or disk is full); try again once space is freed')
  t.is(err.cause, original)
  // wrapped again (a session's failure that was the catalog's), the reason comes through
  t.is(outOfSpaceReason(diskFullError(err, 'making 360p')), 'database or disk is full')
})

test.serial('the disk watch says full below its reserve, and why', async t => {
  const { disk } = t.context
  const space = createDiskSpace({ dir: disk.path, reserveBytes: 1024 * 1024, maxAgeMs: 0 })
  t.like(await space.check(), { full: false, reserveBytes: 1024 * 1024 })
  t.is((await space.check()).reason, undefined)
  await disk.fill(512 * 1024)
  const full = await space.check()
  t.true(full.full)
  t.true(full.freeBytes <= 512 * 1024)
  t.regex(full.reason ?? '', /^the data folder's disk has 0\.\d MiB free, less than the 1\.0 MiB kept in reserve$/)
  await disk.unfill()
  t.false((await space.check()).full)
})

test.serial('a write refused for lack of space keeps the disk reported full until space is freed; other errors change nothing', async t => {
  const { disk } = t.context
  // no reserve: only the refused write can make it full
  const space = createDiskSpace({ dir: disk.path, reserveBytes: 0, maxAgeMs: 0 })
  space.failed(new Error('database file is corrupt'))
  t.false((await space.check()).full)
  await disk.fill(256 * 1024)
  space.failed(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))
  const refused = await space.check()
  t.true(refused.full)
  t.regex(refused.reason ?? '', /^a write was refused \d+ s ago: out of space \(no space left on device\)$/)
  t.true((await space.check()).full, 'still full while nothing was freed')
  await disk.unfill()
  t.deepEqual({ ...await space.check(), freeBytes: 0 }, { freeBytes: 0, reserveBytes: 0, full: false })
})

test.serial('a refused write is forgotten after a while even when nothing was freed', async t => {
  const { disk } = t.context
  const clock = manualClock()
  const space = createDiskSpace({ dir: disk.path, reserveBytes: 0, maxAgeMs: 0, failureMemoryMs: 60_000, clock })
  space.failed(Object.assign(new Error('quota'), { code: 'EDQUOT' }))
  clock.advance(30_000)
  t.regex((await space.check()).reason ?? '', /^a write was refused 30 s ago: out of space \(disk quota exceeded\)$/)
  clock.advance(30_001)
  t.false((await space.check()).full)
})
