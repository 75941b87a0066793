import { join } from 'node:path'
import anyTest from 'ava'
import { writeClip } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS } from '../helpers/auth.ts'
import { launchBrowser, logInThroughPage, openPage } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { TestFn } from 'ava'
import type { Browser, Response } from 'playwright-core'

/*
 * The web UI's player on a CDN node's own page (issue 11, items 4 and 7): a viewer signs in, the player asks the main
 * server for a signed play URL, hls.js plays it from the node (which checks the token by itself: the node takes no
 * session), and renews it before it expires without reloading: requests made after the renewal carry the new token.
 */

interface Context {
  server: RunningServer
  node: RunningNode
  browser: Browser
  viewer: Credentials
  id: string
  stop: () => Promise<void>
}

type PlayerWindow = Window & { cidcast?: { hls: unknown, video: HTMLVideoElement, src: string | null, token?: () => string | null } }

const test = anyTest as TestFn<Context>
/** Play URLs this short are renewed 8 s after they are made. */
const PLAY_URL_SECONDS = 10
const CLIP_SECONDS = 60

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop().catch(() => {}) }
  const dir = await tempDir('cidcast-e2e-signed-')
  parts.push(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS, playUrlSeconds: PLAY_URL_SECONDS })
  parts.push(server.stop)
  const media = await server.addMedia(await writeClip(join(dir.path, 'clip 640x360.mp4'), 640, 360, CLIP_SECONDS))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const node = await startNode({ dataDir: join(dir.path, 'node'), swarmKeyFile: join(dir.path, 'server', 'swarm.key'), server: server.url, name: 'den', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500 })
  parts.push(node.stop)
  await waitFor(() => node.status().state === 'registered', 20_000, 'the node to register')
  const viewer = { username: 'vera', password: 'a viewer password' }
  await server.accounts.addUser({ name: viewer.username, role: 'viewer', password: viewer.password })
  const { browser, close } = await launchBrowser()
  parts.push(close)
  Object.assign(t.context, { server, node, browser, viewer, id: media.id })
})

test.after.always(async t => { await t.context.stop?.() })

/** The stream token of a URL. */
function tokenOf (url: string): string | null {
  return new URL(url).searchParams.get('token')
}

test('a viewer plays through a node with a signed URL that the player renews before it expires, every request answered 200', async t => {
  const { node, id } = t.context
  const page = await openPage(t, t.context.browser)
  const media: Response[] = []
  page.on('response', res => { if (res.url().startsWith(`${node.url}/media/`)) media.push(res) })
  await logInThroughPage(page, node.url, t.context.viewer)
  await page.goto(`${node.url}/#/media/${id}`)

  const first = await page.waitForFunction(() => (window as unknown as PlayerWindow).cidcast?.token?.() ?? null).then(async h => await h.jsonValue() as string)
  await waitFor(() => media.some(r => /\/\d+\.m4s\?/.test(r.url())), 30_000, 'the first segments from the node')
  await waitFor(async () => await page.evaluate(() => ((window as unknown as PlayerWindow).cidcast?.video.currentTime ?? 0) > 0.5), 30_000, 'playback to start')

  const renewed = await page.waitForFunction(was => {
    const now = (window as unknown as PlayerWindow).cidcast?.token?.()
    return now != null && now !== was && now
  }, first, { timeout: 30_000 }).then(async h => await h.jsonValue() as string)
  // hls.js buffered the whole (small) clip under the first token: dropping the buffer and seeking makes it ask for
  // those segments again, as it does when the browser evicts a long film's buffer, under the token it has now
  const before = media.length
  await page.evaluate(() => {
    const player = (window as unknown as PlayerWindow).cidcast
    const hls = player?.hls as { trigger: (event: string, data: unknown) => void } | undefined
    hls?.trigger('hlsBufferFlushing', { startOffset: 0, endOffset: Number.POSITIVE_INFINITY, type: null })
    if (player != null) player.video.currentTime = 40
  })
  try {
    await waitFor(() => media.slice(before).some(r => /\/\d+\.m4s\?/.test(r.url()) && tokenOf(r.url()) === renewed), 30_000, 'a segment asked for with the renewed token')
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${before} requests before, then ${media.slice(before).map(r => `${new URL(r.url()).pathname} ${tokenOf(r.url()) === first ? 'first' : tokenOf(r.url()) === renewed ? 'renewed' : 'other'}`).join(', ')}`)
  }

  t.true(media.length > 0)
  for (const res of media) {
    t.is(res.status(), 200, res.url())
    t.not(tokenOf(res.url()), null, `${res.url()} carries a token`)
  }
  t.true(media.slice(0, before).every(r => tokenOf(r.url()) === first), 'the first requests carry the first token')
})

test('the node refuses the player\'s URL without its token, with a flipped byte and for another media', async t => {
  const { node, id } = t.context
  const page = await openPage(t, t.context.browser)
  await logInThroughPage(page, node.url, t.context.viewer)
  await page.goto(`${node.url}/#/media/${id}`)
  const src = await page.waitForFunction(() => (window as unknown as PlayerWindow).cidcast?.src ?? null).then(async h => await h.jsonValue() as string)
  const url = new URL(src, node.url)
  const token = url.searchParams.get('token') ?? ''
  t.is((await fetch(url)).status, 200)
  t.is((await fetch(`${node.url}${url.pathname}`)).status, 401)
  const flipped = token.slice(0, -5) + (token.at(-5) === 'A' ? 'B' : 'A') + token.slice(-4)
  t.is((await fetch(`${node.url}${url.pathname}?token=${flipped}`)).status, 403)
  t.is((await fetch(`${node.url}/media/0123456789abcdef/master.m3u8?token=${token}`)).status, 403)
})
