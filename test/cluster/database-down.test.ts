import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { assertWhole, playRendition } from '../helpers/content-check.ts'
import { startChild } from '../helpers/child.ts'
import { createPostgresDatabase, postgresServer } from '../helpers/postgres.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { BenchChild } from '../helpers/child.ts'

/*
 * Issue 15, item 4: the catalog's PostgreSQL stopped for 30 s under two main servers (the test's own server, shut down
 * as `pg_ctl stop` does and started again on its data and port). Meanwhile both serve what they already know
 * (the playlists and segments of a title being played, with its signed play URL); API writes answer 503 naming the
 * database; when it is back both recover by themselves: writes succeed and one server leads.
 */

const SERVER = fileURLToPath(new URL('../helpers/server-process.ts', import.meta.url))
const PROFILE = '480p'
const DOWN_MS = 30_000

type ServerChild = BenchChild<{ url: string, token: string }>

async function status (url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init)
  await res.arrayBuffer()
  return res.status
}

test('with the catalog\'s PostgreSQL gone for 30 s both servers serve the playlists and segments they know, answer writes 503 naming the database, and recover by themselves', async t => {
  const dir = await tempDir('cidcast-cluster-db-down-')
  const database = new URL(await createPostgresDatabase())
  const postgres = await postgresServer()
  let stopped = false
  const env = { BENCH_SERVER_LOG_LEVEL: 'error', CIDCAST_DATABASE: database.href }
  const a: ServerChild = await startChild(SERVER, [join(dir.path, 'a')], 60_000, { env })
  await mkdir(join(dir.path, 'b'), { recursive: true })
  await copyFile(join(dir.path, 'a', 'swarm.key'), join(dir.path, 'b', 'swarm.key'))
  const b: ServerChild = await startChild(SERVER, [join(dir.path, 'b')], 60_000, { env })
  t.teardown(async () => {
    if (stopped) await postgres.start()
    await Promise.all([a.stop(), b.stop()])
    await dir.remove()
  })
  const auth = bearer(a.ready.token)
  const added = await fetch(`${a.ready.url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify({ path: await fixture('h264-aac-720p-30s') }) })
  t.is(added.status, 201)
  const { id } = await added.json() as { id: string }

  // a viewer plays the first segments through each server, with the play URL each signed
  const playable: string[] = []
  const playlists: string[] = []
  for (const server of [a, b]) {
    const play = await (await fetch(`${server.ready.url}/api/v1/media/${id}/play`, { headers: auth })).json() as { url: string }
    const master = new URL(play.url)
    const token = master.searchParams.get('token') ?? ''
    const files = [master.href, `${server.ready.url}/media/${id}/${PROFILE}/index.m3u8?token=${token}`, `${server.ready.url}/media/${id}/${PROFILE}/init.mp4?token=${token}`]
    playlists.push(files[1])
    for (let n = 0; n < 3; n++) files.push(`${server.ready.url}/media/${id}/${PROFILE}/${n}.m4s?token=${token}`)
    for (const file of files) t.is(await status(file), 200, file)
    playable.push(...files)
  }

  await postgres.stop()
  stopped = true
  const downAt = Date.now()
  // writes are refused at once with a reason, nothing half-done; reads of what is known go on
  const progress = `${b.ready.url}/api/v1/media/${id}/progress`
  const refused = await fetch(progress, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify({ positionSeconds: 12 }) })
  t.is(refused.status, 503)
  const body = await refused.json() as { error: string, message: string }
  t.regex(body.error, /^Catalog(Unavailable|Busy)Error$/)
  t.notRegex(body.message, new RegExp(database.password))
  while (Date.now() - downAt < DOWN_MS) {
    for (const file of playable) t.is(await status(file), 200, `${file} while the database is down`)
    await new Promise(resolve => setTimeout(resolve, 2000))
  }

  await postgres.start()
  stopped = false
  const upAt = Date.now()
  await waitFor(async () => await status(progress, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify({ positionSeconds: 14 }) }) === 204, 60_000, 'writes to succeed again')
  const leaders = await waitFor(async () => {
    const infos = await Promise.all([a, b].map(async s => await (await fetch(`${s.ready.url}/api/v1/server`)).json() as { leader: boolean }))
    const count = infos.filter(i => i.leader).length
    return count === 1 ? count : undefined
  }, 30_000, 'one server to lead again')
  t.is(leaders, 1)
  // what the outage cut short (a segment being stored when the database went) is made again: the whole title plays
  for (const playlist of playlists) assertWhole(t, await playRendition(playlist), `after the outage, ${new URL(playlist).host}`)
  t.log(`writes came back ${Date.now() - upAt} ms after the database`)
})
