import anyTest from 'ava'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { inScope } from '../../../core/media-query.ts'
import { testDatabase } from '../../helpers/database.ts'
import type { Catalog } from '../../../core/catalog/catalog.ts'
import type { TestFn } from 'ava'

/*
 * A viewer's library folders are decided twice: by `inScope` for one media, and by the catalog's SQL for listings and
 * totals. The two must agree on every path, including those SQL's LIKE would get wrong (case, `%` and `_`).
 */

const test = anyTest as TestFn<{ catalog: Catalog, ids: Map<string, string>, remove: () => Promise<void> }>

const PATHS = [
  '/srv/films/a.mkv',
  '/srv/films/deep/er/b.mkv',
  '/srv/films2/c.mkv',
  '/srv/Films/d.mkv',
  '/srv/fi%ms/e.mkv',
  '/srv/fi_ms/f.mkv',
  '/srv/filmsx.mkv',
  '/srv/émissions/g.mkv',
  '/srv/🎬/h.mkv',
  '/srv/🎬x/i.mkv',
  '/other/j.mkv'
]

const SCOPES: Array<readonly string[]> = [
  ['/srv/films'],
  ['/srv/fi%ms'],
  ['/srv/fi_ms', '/srv/Films'],
  ['/srv/émissions', '/srv/🎬'],
  ['/srv/films/a.mkv'],
  ['/'],
  []
]

// a database of the test process's dialect (library-scope.pg.test.ts runs these on PostgreSQL)
test.before(async t => {
  const { database, remove } = await testDatabase()
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  const ids = new Map<string, string>()
  for (const [i, path] of PATHS.entries()) {
    const id = i.toString(16).padStart(16, '0')
    await catalog.upsertMedia({ id, sourceCid: `bafy-${i}`, path, title: `t${i}`, durationSeconds: 10, sizeBytes: 1, probe: {} })
    await catalog.setProgress('u1', id, i)
    ids.set(id, path)
  }
  t.context = { catalog, ids, remove }
})

test.after.always(async t => {
  await t.context.catalog?.stop()
  await t.context.remove?.()
})

test('the catalog lists, counts and resumes exactly the media inScope admits, for every folder list', async t => {
  const { catalog, ids } = t.context
  for (const folders of SCOPES) {
    const expected = PATHS.filter(path => inScope(path, { folders })).sort()
    const listed = (await catalog.listMedia({ folders, limit: 100 })).map(m => m.path).sort()
    t.deepEqual(listed, expected, JSON.stringify(folders))
    t.is(await catalog.countMedia({ folders }), expected.length, JSON.stringify(folders))
    const resumed = (await catalog.listProgress('u1', { folders })).map(p => ids.get(p.mediaId) ?? '').sort()
    t.deepEqual(resumed, expected, JSON.stringify(folders))
  }
  t.is(await catalog.countMedia({}), PATHS.length, 'no folders: every media')
})

test('a folder covers what lies below it on a "/" boundary, compared case by case', t => {
  const films = { folders: ['/srv/films'] }
  t.true(inScope('/srv/films/a.mkv', films))
  t.true(inScope('/srv/films/deep/er/b.mkv', films))
  t.false(inScope('/srv/films2/c.mkv', films))
  t.false(inScope('/srv/filmsx.mkv', films))
  t.false(inScope('/srv/Films/d.mkv', films))
  t.true(inScope('/anything', { folders: ['/'] }))
  t.false(inScope('/srv/films/a.mkv', { folders: [] }))
  t.true(inScope('/srv/films/a.mkv', {}))
})
