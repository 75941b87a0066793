import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { startChild } from '../helpers/child.ts'
import { assertWhole, playRendition } from '../helpers/content-check.ts'
import { childrenNamed, running } from '../helpers/proc.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { BenchChild } from '../helpers/child.ts'
import type { MediaView } from '../../core/media/index.ts'

/*
 * Fault: the main server killed with SIGKILL in the middle of a transcode, then started again on the same data
 * folder. Its ffmpeg dies with it, no rendition is marked complete with a segment missing, and after the restart
 * every segment plays, its bytes hashing to the CID the server names for it, also inside the finished rendition's
 * directory. Nothing is repaired by hand.
 */

const SERVER = fileURLToPath(new URL('../helpers/server-process.ts', import.meta.url))
const PROFILE = '480p'

type ServerChild = BenchChild<{ url: string, token: string }>

async function startMain (data: string): Promise<ServerChild> {
  return await startChild(SERVER, [data], 60_000, { env: { BENCH_SERVER_LOG_LEVEL: 'error' } })
}

async function media (main: ServerChild, id: string): Promise<MediaView> {
  const res = await fetch(`${main.ready.url}/api/v1/media/${id}`, { headers: bearer(main.ready.token) })
  if (res.status !== 200) throw new Error(`GET media ${id} answered ${res.status}: ${await res.text()}`)
  return await res.json() as MediaView
}

test('a main server killed with SIGKILL mid-transcode leaves no orphan ffmpeg and no rendition complete with a hole, and plays every segment after a restart', async t => {
  const dir = await tempDir('cidcast-fault-main-kill-')
  const data = join(dir.path, 'server')
  let main = await startMain(data)
  const ffmpegs: number[] = []
  t.teardown(async () => {
    await main.stop()
    // only what this test found to be its server's children, and only if an assertion below failed
    for (const pid of ffmpegs) if (await running(pid)) process.kill(pid, 'SIGKILL')
    await dir.remove()
  })

  const added = await fetch(`${main.ready.url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(main.ready.token) }, body: JSON.stringify({ path: await fixture('h264-aac-720p-30s') }) })
  t.is(added.status, 201)
  const { id } = await added.json() as { id: string }
  const first = await fetch(`${main.ready.url}/media/${id}/${PROFILE}/0.m4s`, { headers: bearer(main.ready.token) })
  t.is(first.status, 200)
  // the session goes on encoding the 15 segments of 30 s after the first one: the kill lands in its middle
  ffmpegs.push(...await waitFor(async () => {
    const pids = await childrenNamed(main.child.pid as number, 'ffmpeg')
    return pids.length > 0 ? pids : undefined
  }, 20_000, 'an ffmpeg child of the server'))
  main.child.kill('SIGKILL')
  await waitFor(() => main.child.exitCode !== null || main.child.signalCode !== null, 10_000, 'the server to die')
  await waitFor(async () => {
    for (const pid of ffmpegs) if (await running(pid)) return false
    return true
  }, 5000, `ffmpeg ${ffmpegs.join(', ')} to die with its server`)

  main = await startMain(data)
  const after = await media(main, id)
  const rendition = after.renditions.find(r => r.profile === PROFILE)
  t.truthy(rendition)
  t.not(rendition?.state, 'complete', 'the transcode was cut short')
  t.is(rendition?.root, null)
  for (const other of after.renditions.filter(r => r.state === 'complete')) {
    assertWhole(t, await playRendition(`${main.ready.url}/ipfs/${other.root ?? ''}/index.m3u8`, bearer(main.ready.token)), `complete ${other.profile}`)
  }

  // a viewer plays it from the start: what was stored before the kill and what is made now
  const played = await playRendition(`${main.ready.url}/media/${id}/${PROFILE}/index.m3u8`, bearer(main.ready.token))
  t.is(played.filter(f => f.file.endsWith('.m4s')).length, 15)
  assertWhole(t, played, '/media')

  // once every segment exists the rendition is finished by itself, over the very blocks that were served
  const root = await waitFor(async () => (await media(main, id)).renditions.find(r => r.profile === PROFILE && r.state === 'complete')?.root ?? undefined, 60_000, `${PROFILE} to be complete`)
  const inDirectory = await playRendition(`${main.ready.url}/ipfs/${root}/index.m3u8`, bearer(main.ready.token))
  assertWhole(t, inDirectory, `/ipfs/${root}`)
  t.deepEqual(inDirectory.map(f => [f.file, f.cid]), played.map(f => [f.file, f.cid]))
})
