import { join } from 'node:path'
import anyTest from 'ava'
import Database from 'better-sqlite3'
import { fixture } from '../../fixtures/media.ts'
import { startTestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/tmp.ts'
import { mountTmpfs, requireRoot } from '../helpers/tmpfs.ts'
import type { TestServer } from '../helpers/server.ts'
import type { Tmpfs } from '../helpers/tmpfs.ts'
import type { TestFn } from 'ava'

/*
 * The main server with its data folder on a tmpfs of its own, filled to the last byte by a filler file (issue #12
 * item 4): out of space reads as out of space (507 DiskFullError with the reason, no internal names), /healthz says
 * degraded and why, what needs no write keeps answering, nothing half-made is marked complete, and once the filler is
 * deleted the same requests play and health is ok again, without a restart.
 */

const test = anyTest as TestFn<{ disk: Tmpfs, test: TestServer, url: string, token: string, id: string, other: string, database: string }>

const DISK_BYTES = 256 * 1024 * 1024
/** Free space left for the rendition that fills the disk: room for about one segment of it (of three). */
const LEAVE_BYTES = 512 * 1024
/** What a viewer must never read in an error: driver and library names, codes, paths. */
const INTERNALS = /Sqlite|QueryFailed|PutFailed|ENOSPC|SQLITE_|ffmpeg ended|\/tmp\/|cidcast-tmpfs/

test.before(async t => {
  requireRoot('the disk-full tests')
  const disk = await mountTmpfs(DISK_BYTES)
  t.context.disk = disk
  const dataDir = join(disk.path, 'data')
  const server = await startTestServer({ dataDir })
  t.context.test = server
  const media = await server.server.addMedia(await fixture('h264-aac-10s'))
  // nothing of this one is asked for until the last test (sessions of the others run on in the background)
  const other = await server.server.addMedia(await fixture('portrait-6s'))
  // identification and the poster frame write in the background: done before the disk fills
  await server.server.metadata.idle()
  // 720p (copied) is made whole while there is room; 480p is known to the catalog, none of its segments made
  await server.server.transcoder.complete(await server.server.library.job(media.id, '720p'))
  await server.server.library.job(media.id, '480p')
  Object.assign(t.context, { url: server.server.url, token: server.token, id: media.id, other: other.id, database: join(dataDir, 'catalog.sqlite') })
})

test.after.always(async t => {
  try {
    await t.context.test?.stop()
  } finally {
    await t.context.disk?.unmount()
  }
})

async function get (t: { context: { url: string, token: string } }, path: string): Promise<{ status: number, json: any, bytes: number }> {
  const res = await fetch(t.context.url + path, { headers: { Authorization: `Bearer ${t.context.token}` } })
  const body = Buffer.from(await res.arrayBuffer())
  const json = res.headers.get('content-type')?.includes('json') === true ? JSON.parse(body.toString('utf8')) : undefined
  return { status: res.status, json, bytes: body.byteLength }
}

/** Renditions the catalog marks complete although their init segment or a segment is not recorded. */
function completeButMissing (database: string): unknown[] {
  const db = new Database(database, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(`SELECT r.key, r.profile, r.segment_count, (SELECT count(*) FROM segments s WHERE s.rendition_key = r.key) AS made, r.init_cid
      FROM renditions r WHERE r.state = 'complete'`).all()
      .filter(row => { const r = row as { segment_count: number, made: number, init_cid: string | null }; return r.made !== r.segment_count || r.init_cid == null })
  } finally {
    db.close()
  }
}

test.serial('with the disk full, a segment not made yet answers 507 naming the cause, and health says degraded with the reason', async t => {
  const { id, disk } = t.context
  await disk.fill()
  t.is(await disk.free(), 0)

  // a rendition the catalog knows: ffmpeg (which says nothing of a full disk) cannot write its output
  const made = await get(t, `/media/${id}/480p/2.m4s`)
  t.is(made.status, 507)
  t.is(made.json.error, 'DiskFullError')
  t.regex(made.json.message, /^making segment 2 of 480p failed: out of space \(no space left on device\)/)
  t.notRegex(made.json.message, INTERNALS)
  // a rendition never asked for before: its catalog row cannot be written (SQLITE_FULL)
  const first = await get(t, `/media/${id}/360p/0.m4s`)
  t.is(first.status, 507)
  t.is(first.json.error, 'DiskFullError')
  t.regex(first.json.message, /out of space \(.+\); try again once space is freed$/)
  t.notRegex(first.json.message, INTERNALS)
  const init = await get(t, `/media/${id}/480p/init.mp4`)
  t.is(init.status, 507)
  t.is(init.json.error, 'DiskFullError')

  const health = await get(t, '/healthz')
  t.is(health.status, 200)
  t.is(health.json.status, 'degraded')
  t.regex(health.json.reasons.join('\n'), /the data folder's disk has 0\.0 MiB free, less than the 64\.0 MiB kept in reserve/)
  t.regex(health.json.reasons.join('\n'), /a write was refused \d+ s ago: out of space/)
  t.like(health.json.disk, { freeBytes: 0, full: true })
})

test.serial('with the disk full, the library, playlists and segments made before still answer', async t => {
  const { id } = t.context
  const list = await get(t, '/api/v1/media')
  t.is(list.status, 200)
  const shown = list.json.items.find((m: { id: string }) => m.id === id)
  t.is(list.json.items.length, 2)
  const renditions = Object.fromEntries(shown.renditions.map((r: { profile: string, state: string }) => [r.profile, r.state]))
  t.like(renditions, { '720p': 'complete' })
  t.not(renditions['480p'], 'complete')
  t.is((await get(t, `/api/v1/media/${id}`)).status, 200)
  t.is((await get(t, `/media/${id}/master.m3u8`)).status, 200)
  // a playlist is known from the probe: no write needed, even for a rendition never asked for
  for (const profile of ['720p', '480p', '360p']) t.is((await get(t, `/media/${id}/${profile}/index.m3u8`)).status, 200, profile)
  const segment = await get(t, `/media/${id}/720p/3.m4s`)
  t.is(segment.status, 200)
  t.true(segment.bytes > 0)
  t.is((await get(t, `/media/${id}/720p/init.mp4`)).status, 200)
})

test.serial('once space is freed, the same requests play and health is ok again, without a restart', async t => {
  const { id, disk } = t.context
  t.deepEqual(completeButMissing(t.context.database), [])
  await disk.unfill()
  const health = await waitFor(async () => {
    const answer = await get(t, '/healthz')
    return answer.json.status === 'ok' ? answer : undefined
  }, 10_000, 'health to be ok again')
  t.deepEqual(health.json.reasons, [])
  t.false(health.json.disk.full)
  for (const path of ['480p/2.m4s', '480p/init.mp4', '360p/0.m4s']) {
    const res = await get(t, `/media/${id}/${path}`)
    t.is(res.status, 200, path)
    t.true(res.bytes > 0, path)
  }
})

test.serial('a disk that fills while a rendition is made leaves it unfinished, never complete with a segment missing; it finishes once space is freed', async t => {
  const { server } = t.context.test
  const { other: id, disk } = t.context
  const job = await server.library.job(id, '480p')
  // the sessions the other tests started must not take the room this one leaves
  await waitFor(() => server.transcoder.sessions().length === 0, 30_000, 'earlier sessions to end')
  // the run stops partway, wherever the disk runs out first (ffmpeg's output, a block, the catalog)
  await disk.fill(LEAVE_BYTES)
  const err = await t.throwsAsync(server.transcoder.complete(job))
  t.is(err?.name, 'DiskFullError')
  t.regex(err?.message ?? '', /out of space/)
  t.deepEqual(completeButMissing(t.context.database), [])
  const view = await server.library.get(id)
  t.not(view.renditions.find(r => r.profile === '480p')?.state, 'complete')

  await disk.unfill()
  await server.transcoder.complete(job)
  const done = (await server.library.get(id)).renditions.find(r => r.profile === '480p')
  t.is(done?.state, 'complete')
  t.truthy(done?.root)
  t.deepEqual(completeButMissing(t.context.database), [])
})
