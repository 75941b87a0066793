import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { lockSqlite } from '../helpers/sqlite-locker.ts'
import { startTestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { HeldLock } from '../helpers/sqlite-locker.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * The main server with its catalog file locked by another process (test/helpers/sqlite-locker.ts): a progress save
 * or a metadata edit waits for the lock within the catalog's bound and is kept once the lock goes; one locked out
 * for longer answers 503 with Retry-After and a JSON body, and nothing changed. The bound is short here (3 s);
 * a real server waits 30 s.
 */

const BUSY_WAIT_MS = 3000

const test = anyTest as TestFn<{ test: TestServer, url: string, token: string, database: string, id: string }>

test.before(async t => {
  const server = await startTestServer({ catalog: { busyWaitMs: BUSY_WAIT_MS } })
  const media = await server.server.addMedia(await fixture('h264-aac-10s'))
  // identification writes to the catalog in the background: let it finish, so the lock meets only the calls of a test
  await server.server.metadata.idle()
  t.context = { test: server, url: server.server.url, token: server.token, database: join(server.dir, 'data', 'catalog.sqlite'), id: media.id }
})

test.after.always(async t => { await t.context.test?.stop() })

/** A call as the server's admin (metadata edits are theirs; progress is the admin's own). */
async function call (t: { context: { url: string, token: string } }, method: string, path: string, body?: unknown): Promise<{ status: number, headers: Headers, json: any }> {
  const headers = { ...bearer(t.context.token), ...body === undefined ? {} : { 'Content-Type': 'application/json' } }
  const res = await fetch(t.context.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) }
}

/**
 * Locks the catalog file once the admin's token was just checked: the server reads a token from the catalog at most
 * every 30 s and notes its use at most every minute, so the lock meets the call under test, not its authentication.
 */
async function lockCatalog (t: { context: { url: string, token: string, database: string } }): Promise<HeldLock> {
  const me = await call(t, 'GET', '/api/v1/auth/me')
  if (me.status !== 200) throw new Error(`GET /api/v1/auth/me answered ${me.status}`)
  return await lockSqlite(t.context.database)
}

/** `cidcast_catalog_calls_waiting` from the server's metrics. */
async function callsWaiting (t: { context: { url: string } }): Promise<number> {
  const text = await (await fetch(`${t.context.url}/metrics`)).text()
  return Number(/^cidcast_catalog_calls_waiting (\d+)$/m.exec(text)?.[1] ?? NaN)
}

test.serial('a progress save made while the catalog is locked is kept once the lock goes', async t => {
  const { id } = t.context
  const lock = await lockCatalog(t)
  t.teardown(lock.release)
  let settled = false
  const saving = call(t, 'PUT', `/api/v1/media/${id}/progress`, { positionSeconds: 4.5 }).finally(() => { settled = true })
  await waitFor(async () => await callsWaiting(t) >= 1, 10_000, 'the save to wait for the lock')
  t.false(settled, 'the save waits while the lock is held')
  await lock.release()
  t.is((await saving).status, 204)
  t.is((await call(t, 'GET', `/api/v1/media/${id}/progress`)).json.positionSeconds, 4.5)
})

test.serial('a progress save locked out for longer than the bound answers 503 with Retry-After, and the saved position is unchanged', async t => {
  const { id } = t.context
  t.is((await call(t, 'PUT', `/api/v1/media/${id}/progress`, { positionSeconds: 2 })).status, 204)
  const lock = await lockCatalog(t)
  t.teardown(lock.release)
  const started = performance.now()
  const res = await call(t, 'PUT', `/api/v1/media/${id}/progress`, { positionSeconds: 7 })
  const waited = performance.now() - started
  t.is(res.status, 503)
  t.is(res.headers.get('retry-after'), '5')
  t.is(res.json.error, 'CatalogBusyError')
  t.regex(res.json.message, /^the catalog is busy: its database is locked by another process; nothing was changed, try again in 5 s$/)
  t.true(waited >= BUSY_WAIT_MS - 50, `answered after ${Math.round(waited)} ms`)
  await lock.release()
  t.is((await call(t, 'GET', `/api/v1/media/${id}/progress`)).json.positionSeconds, 2)
  const metrics = await (await fetch(`${t.context.url}/metrics`)).text()
  t.regex(metrics, /^cidcast_catalog_busy_total [1-9]\d*$/m)
})

test.serial('a metadata edit locked out answers 503 and changes nothing; one made while locked briefly goes through', async t => {
  const { id } = t.context
  const before = (await call(t, 'GET', `/api/v1/media/${id}/metadata`)).json
  const history = (await call(t, 'GET', `/api/v1/media/${id}/metadata/history`)).json.items
  let lock = await lockCatalog(t)
  t.teardown(async () => { await lock.release() })
  const refused = await call(t, 'PATCH', `/api/v1/media/${id}/metadata`, { title: 'Edited while locked', year: 2001 })
  t.is(refused.status, 503)
  t.is(refused.headers.get('retry-after'), '5')
  t.is(refused.json.error, 'CatalogBusyError')
  await lock.release()
  t.deepEqual((await call(t, 'GET', `/api/v1/media/${id}/metadata`)).json, before)
  t.deepEqual((await call(t, 'GET', `/api/v1/media/${id}/metadata/history`)).json.items, history)
  t.is((await call(t, 'GET', `/api/v1/media/${id}`)).json.title, before.title)

  lock = await lockCatalog(t)
  const editing = call(t, 'PATCH', `/api/v1/media/${id}/metadata`, { title: 'Edited once unlocked' })
  await waitFor(async () => await callsWaiting(t) >= 1, 10_000, 'the edit to wait for the lock')
  await lock.release()
  const edited = await editing
  t.is(edited.status, 200)
  t.is(edited.json.metadata.title, 'Edited once unlocked')
  t.is((await call(t, 'GET', `/api/v1/media/${id}`)).json.title, 'Edited once unlocked')
  t.is((await call(t, 'GET', `/api/v1/media/${id}/metadata/history`)).json.items.length, history.length + 1)
})
