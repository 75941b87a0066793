import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { bearer } from '../helpers/auth.ts'
import { assertWhole, fetchFile, playRendition } from '../helpers/content-check.ts'
import { childrenNamed, running } from '../helpers/proc.ts'
import { startTestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/tmp.ts'

/*
 * Fault: the ffmpeg of a transcode session killed with SIGKILL while a viewer waits for a segment it was making.
 * The viewer gets either that segment, made again by a new session, or a clear error without internals; the next
 * request plays; what the dead session left half-written is never stored, and the rendition is finished whole
 * later without help. The server runs in this test's process, so its ffmpeg is a child of this process.
 */

const PROFILE = '480p'

test('an ffmpeg killed with SIGKILL mid-segment gives the waiting viewer the segment or a clear error, the next request plays, and nothing cut short is stored', async t => {
  const main = await startTestServer()
  t.teardown(main.stop)
  const { server, token } = main
  const auth = bearer(token)
  const media = await server.addMedia(await fixture('h264-aac-720p-30s'))
  const base = `${server.url}/media/${media.id}/${PROFILE}`

  t.is((await fetchFile(`${base}/0.m4s`, auth)).status, 200)
  const [ffmpeg] = await waitFor(async () => {
    const pids = await childrenNamed(process.pid, 'ffmpeg')
    return pids.length === 1 ? pids : undefined
  }, 20_000, 'the session\'s ffmpeg')
  // joins the running session (it is within 3 segments of it), then loses its ffmpeg while waiting
  const waiting = fetchFile(`${base}/3.m4s`, auth)
  process.kill(ffmpeg, 'SIGKILL')
  await waitFor(async () => !await running(ffmpeg), 5000, 'ffmpeg to die')

  const answer = await waiting
  t.log(`the waiting request: ${answer.status} ${answer.error?.message ?? ''}`)
  if (answer.status === 200) {
    assertWhole(t, [answer], 'the waiting request')
  } else {
    t.true(answer.status >= 500 && answer.status < 600, `status ${answer.status}`)
    t.truthy(answer.error?.error)
    t.truthy(answer.error?.message)
    t.notRegex(answer.bytes.toString(), /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace or source path')
  }
  const next = await fetchFile(`${base}/3.m4s`, auth)
  assertWhole(t, [next], 'the next request')
  if (answer.status === 200) t.is(next.cid, answer.cid, 'the same segment both times')

  // every segment, whether made before the kill, by the new session, or now, is whole and what its CID says
  const played = await playRendition(`${base}/index.m3u8`, auth)
  t.is(played.filter(f => f.file.endsWith('.m4s')).length, 15)
  assertWhole(t, played, '/media')
  const root = await waitFor(async () => (await server.library.get(media.id)).renditions.find(r => r.profile === PROFILE && r.state === 'complete')?.root ?? undefined, 60_000, `${PROFILE} to be complete`)
  const inDirectory = await playRendition(`${server.url}/ipfs/${root}/index.m3u8`, auth)
  t.deepEqual(inDirectory.map(f => [f.file, f.cid]), played.map(f => [f.file, f.cid]))
  // the sessions stop once every segment is made: no ffmpeg is left behind
  await waitFor(async () => (await childrenNamed(process.pid, 'ffmpeg')).length === 0, 10_000, 'no ffmpeg left running')
})
