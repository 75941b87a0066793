import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { SAMPLE_NAME } from '../../node/sample.ts'
import { startServer } from '../../node/server.ts'
import { SESSION_COOKIE } from '../../gateway/access/authenticate.ts'
import { bearer, login, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { jpegSize } from '../helpers/jpeg.ts'
import { childrenNamed, running } from '../helpers/proc.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Daemon } from '../helpers/spawn.ts'

const START = fileURLToPath(new URL('../../node/start.ts', import.meta.url))

function run (args: string[], env: Record<string, string> = {}): Daemon {
  return runNode(args, { CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', ...env })
}

/** What `pattern` captures once the daemon prints it on stdout; fails at once, with its stderr, if it exits first. */
async function printed (daemon: Daemon, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  return await waitFor(() => {
    const found = pattern.exec(daemon.stdout())?.[1]
    if (found == null && daemon.child.exitCode != null) throw new Error(`exited (${daemon.child.exitCode}) before printing ${what}: ${daemon.stderr()}`)
    return found
  }, timeoutMs, what)
}

async function urlOf (daemon: Daemon): Promise<string> {
  return await printed(daemon, /^(http:\/\/[0-9.:]+)$/m, 60_000, 'the server URL on stdout')
}

/** Logs in at `url` as the first admin with the password a new `cidcast server` printed once; their session token. */
async function firstAdminLogin (daemon: Daemon, url: string): Promise<string> {
  const password = await printed(daemon, /^admin password: (\S+)$/m, 10_000, 'the first admin\'s password on stdout')
  return await login(url, 'admin', password)
}

test('the server daemon prints its URL, refuses a second daemon on its folder, adds watched files and stops on SIGTERM', async t => {
  const dir = await tempDir()
  const library = join(dir.path, 'library')
  await mkdir(library)
  const daemon = run([CLI, 'server', '--data', join(dir.path, 'data'), '--library', library])
  try {
    const url = await urlOf(daemon)
    t.is((await (await fetch(`${url}/healthz`)).json()).status, 'ok')
    t.regex(daemon.stdout(), /^admin user: admin$/m)
    const token = await firstAdminLogin(daemon, url)

    const second = run([CLI, 'server', '--data', join(dir.path, 'data')])
    t.not(await second.exited, 0)
    t.regex(second.stderr(), /DataFolderLockedError/)
    t.is(second.stderr().trim().split('\n').length, 1)

    await copyFile(await fixture('odd-854x480-6s'), join(library, 'dropped in.mp4'))
    const items = await waitFor(async () => {
      const list = await (await fetch(`${url}/api/v1/media`, { headers: bearer(token) })).json() as { items: Array<{ title: string }> }
      return list.items.length > 0 ? list.items : undefined
    }, 30_000, 'the watched file to be added')
    t.is(items[0].title, 'dropped in')

    daemon.child.kill('SIGTERM')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
    await dir.remove()
  }
})

test('the ffmpeg children of a server killed with SIGKILL mid-transcode die with it', async t => {
  if (process.platform !== 'linux') return t.pass('parent-death signals are a Linux feature')
  const dir = await tempDir()
  t.teardown(dir.remove)
  const daemon = run([CLI, 'server', '--data', join(dir.path, 'data')])
  const children: number[] = []
  try {
    const url = await urlOf(daemon)
    const token = await firstAdminLogin(daemon, url)
    const added = await fetch(`${url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ path: await fixture('h264-aac-1080p-60s') }) })
    const { id } = await added.json() as { id: string }
    // 1080p to 720p is encoded (~2.5x realtime here): the session runs on for many seconds after its first segment
    t.is((await fetch(`${url}/media/${id}/720p/0.m4s`, { headers: bearer(token) })).status, 200)
    children.push(...await waitFor(async () => {
      const pids = await childrenNamed(daemon.child.pid as number, 'ffmpeg')
      return pids.length > 0 ? pids : undefined
    }, 30_000, 'an ffmpeg child of the server'))
    daemon.child.kill('SIGKILL')
    await daemon.exited
    await waitFor(async () => {
      for (const pid of children) if (await running(pid)) return false
      return true
    }, 5000, `ffmpeg ${children.join(', ')} to end with its server`)
  } finally {
    daemon.child.kill('SIGKILL')
    // only what this test found to be its server's children, and only if the assertion above failed
    for (const pid of children) if (await running(pid)) process.kill(pid, 'SIGKILL')
  }
})

test('npm start on an empty data folder makes a sample video, shown on both sites as "cidcast sample" with a poster, and prints where it plays', async t => {
  const dir = await tempDir()
  // no provider key reaches it: the poster is a frame of the sample itself. npm start saves the CLI's login of its
  // first admin in the user's config folder: a temporary one here
  const daemon = run(['--import=tsx', START], { CIDCAST_DATA: join(dir.path, 'cidcast'), XDG_CONFIG_HOME: join(dir.path, 'config'), CIDCAST_TMDB_KEY: '', CIDCAST_TVDB_KEY: '', CIDCAST_OMDB_KEY: '' })
  try {
    const play = await printed(daemon, /play:\s+(http:\/\/\S+)/, 120_000, 'the play URL')
    const { origin, hash } = new URL(play)
    const id = hash.replace('#/media/', '')
    const sites = [...daemon.stdout().matchAll(/^cidcast (?:main server|CDN node):\s+(http:\/\/[^/\s]+)\//gm)].map(m => m[1])
    t.is(sites.length, 2)
    // the admin npm start made, with the password it printed beside the URLs; the session works on both sites
    const password = /^ {2}admin: {4}user admin, password (\S+) /m.exec(daemon.stdout())?.[1]
    if (password == null) return t.fail(`no admin password printed: ${daemon.stdout()}`)
    const session = await login(sites[0], 'admin', password)

    // the media are not open: the play page's site plays the signed play URL its player asks for, on its own origin
    t.is((await fetch(`${origin}/media/${id}/master.m3u8`)).status, 401, 'npm start opens no media')
    const played = await fetch(`${origin}/api/v1/media/${id}/play`, { headers: bearer(session) })
    t.is(played.status, 200)
    const signed = new URL((await played.json() as { url: string }).url)
    const master = await fetch(`${origin}${signed.pathname}${signed.search}`)
    t.is(master.status, 200)
    const text = await master.text()
    t.regex(text, /720p\/index\.m3u8/)
    const variant = text.split('\n').find(line => line.startsWith('360p/index.m3u8'))
    if (variant == null) return t.fail('no 360p rendition in the master playlist')
    const index = await fetch(`${origin}/media/${id}/${variant}`)
    t.is(index.status, 200)
    const first = (await index.text()).split('\n').find(line => line.startsWith('0.m4s'))
    if (first == null) return t.fail('no first segment in the 360p playlist')
    const segment = await fetch(`${origin}/media/${id}/360p/${first}`)
    t.is(segment.status, 200)
    t.true((await segment.arrayBuffer()).byteLength > 1000)
    const posters: Buffer[] = []
    for (const site of sites) {
      const list = await (await fetch(`${site}/api/v1/media`, { headers: bearer(session) })).json() as { items: Array<{ id: string, kind: string, title: string, images: { poster: { url: string } | null } }> }
      const sample = list.items.find(m => m.id === id)
      t.like(sample, { kind: 'movie', title: 'cidcast sample' }, site)
      if (sample?.images.poster == null) return t.fail(`no poster on ${site}`)
      const res = await fetch(site + sample.images.poster.url, { headers: bearer(session) })
      t.is(res.headers.get('content-type'), 'image/jpeg')
      posters.push(Buffer.from(await res.arrayBuffer()))
    }
    t.deepEqual(jpegSize(posters[0]), { width: 480, height: 270 })
    t.deepEqual(posters[1], posters[0], 'the node serves the same poster')

    const { browser, close } = await launchBrowser()
    try {
      for (const site of sites) {
        // signed in as the web UI is after its login: the session cookie
        const context = await browser.newContext()
        await context.addCookies([{ name: SESSION_COOKIE, value: session, url: site }])
        const page = await context.newPage()
        await page.goto(`${site}/`)
        const card = page.locator(`[data-id="${id}"]`).first()
        await card.waitFor()
        t.regex(await card.innerText(), /cidcast sample/)
        await page.waitForFunction(selector => {
          const img = document.querySelector<HTMLImageElement>(selector)
          return img != null && img.complete && img.naturalWidth > 0
        }, `[data-id="${id}"] img`, { timeout: 10_000 })
        await context.close()
      }
    } finally {
      await close()
    }
    daemon.child.kill('SIGINT')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
    await dir.remove()
  }
})

test('npm start on a data folder whose sample was taken for an extra before it had an NFO shows it as the movie "cidcast sample"', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const data = join(dir.path, 'cidcast')
  const samples = join(data, 'samples')
  await mkdir(samples, { recursive: true })
  await copyFile(await fixture('h264-aac-10s'), join(samples, SAMPLE_NAME))
  // what an older npm start left: the sample in the library, an extra by its name (and an admin, whose token is kept)
  const older = await startServer({ dataDir: join(data, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: { keys: {} }, accounts: TEST_ACCOUNTS })
  const added = await older.addMedia(join(samples, SAMPLE_NAME))
  const { token } = await older.accounts.addApiToken('admin', 'tests')
  await older.stop()
  t.is(added.kind, 'extra')

  const daemon = run(['--import=tsx', START], { CIDCAST_DATA: data, XDG_CONFIG_HOME: join(dir.path, 'config'), CIDCAST_TMDB_KEY: '', CIDCAST_TVDB_KEY: '', CIDCAST_OMDB_KEY: '' })
  try {
    const site = await printed(daemon, /^cidcast main server:\s+(http:\/\/[^/\s]+)\//m, 60_000, 'the main server URL')
    t.false(daemon.stdout().includes('making a sample video'))
    const view = await (await fetch(`${site}/api/v1/media/${added.id}`, { headers: bearer(token) })).json() as { kind: string, title: string, images: { poster: unknown } }
    t.like(view, { kind: 'movie', title: 'cidcast sample' })
    t.not(view.images.poster, null)
    daemon.child.kill('SIGINT')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
  }
})
