import test from 'ava'
import { isBusy } from '../../../core/catalog/busy.ts'
import { createPostgresDatabase, withClient } from '../../helpers/postgres.ts'

/*
 * PostgreSQL's side of core/catalog/busy.ts: a transaction it rolls back for losing a race for a lock (here a real
 * deadlock between two connections) is one the catalog may try again, as SQLite's SQLITE_BUSY. (Lock waits on the
 * SQLite file are busy.test.ts's; on PostgreSQL a writer waits inside the server instead.)
 */

test('a transaction PostgreSQL rolled back for a deadlock counts as busy, to be tried again; other failures do not', async t => {
  const url = await createPostgresDatabase()
  await withClient(url, async setup => { await setup.query('CREATE TABLE t (id integer PRIMARY KEY, n integer); INSERT INTO t VALUES (1, 0), (2, 0)') })
  const failures = await withClient(url, async a => await withClient(url, async b => {
    await a.query('BEGIN')
    await b.query('BEGIN')
    await a.query('UPDATE t SET n = 1 WHERE id = 1')
    await b.query('UPDATE t SET n = 2 WHERE id = 2')
    // each now waits for the other's row: PostgreSQL's deadlock check ends one of them
    const settled = await Promise.allSettled([a.query('UPDATE t SET n = 1 WHERE id = 2'), b.query('UPDATE t SET n = 2 WHERE id = 1')])
    await a.query('ROLLBACK')
    await b.query('ROLLBACK')
    return settled.filter(s => s.status === 'rejected').map(s => s.reason as Error & { code?: string })
  }))
  t.is(failures.length, 1)
  t.is(failures[0].code, '40P01')
  t.true(isBusy(failures[0]))
  t.true(isBusy({ name: 'QueryFailedError', driverError: failures[0] }), 'inside TypeORM\'s QueryFailedError too')
  const unique = await withClient(url, async c => await c.query('INSERT INTO t VALUES (1, 0)').catch((err: unknown) => err))
  t.false(isBusy(unique), 'a unique violation is not a lock')
})
