import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { createPostgresDatabase, withClient } from '../helpers/postgres.ts'
import { startTestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'

/*
 * A main server on PostgreSQL transcodes under the catalog's transcode leases (node/server.ts wires them, owner = its
 * peer ID): a segment range another server holds a lease on is not transcoded here while that lease lives; once it
 * is gone this server makes the segment under a lease of its own, and releases it when its ffmpeg session ends.
 */

async function sessionsStarted (server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('cidcast_ffmpeg_sessions_started_total '))
  return Number(line?.split(' ')[1])
}

test('a main server on PostgreSQL leaves segments under another server\'s lease alone, and leases what it makes itself', async t => {
  const database = await createPostgresDatabase()
  const running = await startTestServer({ database })
  t.teardown(running.stop)
  const { server, token } = running
  const media = await server.addMedia(await fixture('h264-aac-10s'))
  const { key } = await server.library.job(media.id, '360p')
  const before = await sessionsStarted(server)

  // another server's live session from segment 0 on
  await withClient(database, async client => {
    await client.query("INSERT INTO transcode_leases VALUES ('other-lease-000000000000', $1, 0, 0, 'another-server', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + 60000)", [key])
  })
  const url = `${server.url}/media/${media.id}/360p/0.m4s`
  await t.throwsAsync(fetch(url, { headers: bearer(token), signal: AbortSignal.timeout(1500) }), { name: 'TimeoutError' })
  t.is(await sessionsStarted(server), before, 'no ffmpeg while the other server holds the range')

  // that server let go: this one makes the segment, under a lease of its own while its session runs
  await withClient(database, async client => { await client.query('DELETE FROM transcode_leases') })
  const owners = new Set<string>()
  const watching = waitFor(async () => {
    const rows = await withClient(database, async client => (await client.query<{ owner: string }>('SELECT owner FROM transcode_leases')).rows)
    for (const row of rows) owners.add(row.owner)
    return owners.size > 0
  }, 20_000, 'a lease of this server')
  const segment = await fetch(url, { headers: bearer(token) })
  t.is(segment.status, 200)
  await watching
  t.deepEqual([...owners], [server.peer.libp2p.peerId.toString()])
  t.is(await sessionsStarted(server), before + 1)
  await waitFor(async () => await withClient(database, async client => (await client.query('SELECT id FROM transcode_leases')).rows.length === 0), 30_000, 'the lease released when the session ended')
  t.pass()
})
