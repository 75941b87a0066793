import { execFile } from 'node:child_process'
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { catalogProbe, runCase, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe, HostileTarget } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile files offered as media (`POST /api/v1/media {"path"}`): lists that make ffmpeg read other files, links
 * to secrets, FIFOs, devices, empty, truncated and renamed files. Every one gets the same 422 "not a usable media
 * file", whatever it is and whether it exists, with nothing about the file in the answer, and adds nothing.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, target: HostileTarget, dir: string }>

test.before(async t => {
  const main = await startTestServer()
  const dir = join(main.dir, 'hostile-media')
  await mkdir(dir)
  // what the lists below name: a real, playable clip next to them
  await copyFile(await fixture('odd-854x480-6s'), join(dir, 'good.mp4'))
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const target = { url: main.server.url, tokens: { admin: main.token }, snapshot: serverSnapshot(join(main.dir, 'data'), probe), secrets: [main.dir] }
  t.context = { main, probe, target, dir }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

/** Makes the hostile file in `dir` and returns the path to offer. */
type Make = (dir: string, data: string) => Promise<string>
const named = (name: string, content: string | Buffer): Make => async dir => { await writeFile(join(dir, name), content); return join(dir, name) }

const CASES: Array<[string, Make]> = [
  ['an ffconcat list named .mp4', named('concat.mp4', 'ffconcat version 1.0\nfile good.mp4\nduration 6\n')],
  ['an ffconcat list naming /etc/passwd', named('passwd.mp4', 'ffconcat version 1.0\nfile /etc/passwd\n')],
  ['an HLS playlist named .mkv', named('playlist.mkv', '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\ngood.mp4\n#EXT-X-ENDLIST\n')],
  ['an SDP file named .mp4', named('stream.mp4', 'v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 9 RTP/AVP 96\n')],
  ['an image2 pattern', async dir => { await copyFile(await fixture('image.png'), join(dir, 'frame-%03d.png')); return join(dir, 'frame-%03d.png') }],
  ['a symlink to /etc/shadow', async dir => { await symlink('/etc/shadow', join(dir, 'shadow.mp4')); return join(dir, 'shadow.mp4') }],
  ['a relative symlink to the catalog', async (dir, data) => { await symlink(join('..', 'data', 'catalog.sqlite'), join(dir, 'catalog.mkv')); return join(dir, 'catalog.mkv') }],
  ['a symlink to the swarm key', async (dir, data) => { await symlink(join(data, 'swarm.key'), join(dir, 'key.mp4')); return join(dir, 'key.mp4') }],
  ['a FIFO', async dir => { await promisify(execFile)('mkfifo', [join(dir, 'fifo.mp4')]); return join(dir, 'fifo.mp4') }],
  ['/dev/zero', async () => '/dev/zero'],
  ['/dev/urandom', async () => '/dev/urandom'],
  ['/proc/self/environ', async () => '/proc/self/environ'],
  ['a folder', async dir => dir],
  ['a file that does not exist', async dir => join(dir, 'missing.mp4')],
  ['a path through a missing folder', async dir => join(dir, 'missing', '..', '..', 'data', 'catalog.sqlite')],
  ['an empty file', named('empty.mp4', '')],
  ['a truncated MP4', async () => await fixture('truncated.mp4')],
  ['text renamed .mkv', named('notes.mkv', 'x'.repeat(100_000))],
  ['an HTML page named .mp4', named('page.mp4', '<!DOCTYPE html><script>alert(1)</script>')],
  ['a PNG named .mp4', async dir => { await copyFile(await fixture('image.png'), join(dir, 'still.mp4')); return join(dir, 'still.mp4') }]
]

for (const [what, make] of CASES) {
  test.serial(`${what} offered as media is one 422 "not a usable media file" and adds nothing`, async t => {
    const path = await make(t.context.dir, join(t.context.main.dir, 'data'))
    await runCase(t, { ...t.context.target, secrets: [...t.context.target.secrets ?? [], path] }, {
      name: what,
      method: 'POST',
      path: '/api/v1/media',
      body: JSON.stringify({ path }),
      status: 422,
      error: 'InvalidMediaError',
      check: (t, res) => { t.is(res.json?.message, 'not a usable media file') }
    })
  })
}
