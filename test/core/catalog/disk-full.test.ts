import { join } from 'node:path'
import test from 'ava'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { mountTmpfs, requireRoot } from '../../helpers/tmpfs.ts'
import type { MediaInput } from '../../../core/catalog/catalog.ts'

/*
 * The catalog's database on a disk that fills up (a tmpfs of its own): a write SQLite refuses with SQLITE_FULL is
 * rolled back whole and fails with DiskFullError (what the gateway answers 507), reads go on, and once space is
 * freed the same write goes through on the same open catalog.
 */

/** Each media row carries this much probe text, so the database (its WAL) must grow to take a few of them. */
const PROBE_BYTES = 64 * 1024

function media (n: number): MediaInput {
  return {
    id: `m${String(n).padStart(15, '0')}`,
    sourceCid: `bafy-source-${n}`,
    path: `/videos/${n}.mp4`,
    title: `Clip ${n}`,
    durationSeconds: 10,
    sizeBytes: 1000,
    probe: { padding: 'x'.repeat(PROBE_BYTES) }
  }
}

test('a write refused by a full disk fails with DiskFullError and keeps nothing; reads go on; once space is freed it goes through', async t => {
  requireRoot('the catalog disk-full test')
  const disk = await mountTmpfs(16 * 1024 * 1024)
  t.teardown(async () => { await disk.unmount() })
  const catalog = createCatalog({ logger: silentLogger() }, { database: join(disk.path, 'catalog.sqlite') })
  await catalog.start()
  t.teardown(async () => { await catalog.stop() })
  await catalog.upsertMedia(media(0))

  await disk.fill()
  // the WAL may still have room for a write or two: write until the disk says no
  let refused: { n: number, err: unknown } | undefined
  for (let n = 1; n <= 200 && refused == null; n++) {
    await catalog.upsertMedia(media(n)).catch((err: unknown) => { refused = { n, err } })
  }
  if (refused == null) return t.fail('the full disk never refused a write')
  const err = refused.err as Error
  t.is(err.name, 'DiskFullError')
  t.is(err.message, 'writing the catalog failed: out of space (database or disk is full); try again once space is freed')
  t.is(await catalog.getMedia(media(refused.n).id), undefined, 'the refused write left nothing')
  t.is((await catalog.getMedia(media(0).id))?.title, 'Clip 0')
  t.is(await catalog.countMedia(), refused.n)

  await disk.unfill()
  const { created } = await catalog.upsertMedia(media(refused.n))
  t.true(created)
  t.is((await catalog.getMedia(media(refused.n).id))?.title, `Clip ${refused.n}`)
})
