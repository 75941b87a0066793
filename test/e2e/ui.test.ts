import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, openPage } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { OpenPageOptions } from '../helpers/browser.ts'
import type { TestFn } from 'ava'
import type Hls from 'hls.js'
import type { Browser, Page } from 'playwright-core'

interface Context {
  url: string
  browser: Browser
  clipId: string
  /** How the pages sign in: the first admin, at the main server. */
  signIn: NonNullable<OpenPageOptions['signIn']>
  /** An API token of the same admin, for the test's own API calls. */
  token: string
  stop: () => Promise<void>
}

interface HlsErrorRecord { type: string, details: string, fatal: boolean }

/** What the player page exposes, plus the errors this test collects from hls.js. */
type PlayerWindow = Window & {
  Hls: typeof Hls
  cidcast?: { hls: Hls, video: HTMLVideoElement }
  hlsErrors?: HlsErrorRecord[]
  pwned?: unknown
}

const test = anyTest as TestFn<Context>

/** A title that runs script if any page inserts it as HTML. */
const HOSTILE_TITLE = '<img src=x onerror=window.pwned=1>'
/** Deadline for anything that may wait on ffmpeg (a first segment, a new rendition, a seek). */
const MEDIA_TIMEOUT_MS = 45_000
/** Set to a folder to keep screenshots of the library and player pages. */
const SCREENSHOTS = process.env.CIDCAST_SCREENSHOTS

test.before(async t => {
  // each part is stopped even when a later one fails to start
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-ui-')
  parts.push(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  parts.push(server.stop)
  const { browser, close } = await launchBrowser()
  parts.push(close)
  const clip = await server.addMedia(await fixture('h264-aac-720p-30s'))
  Object.assign(t.context, { url: server.url, browser, clipId: clip.id, signIn: { url: server.url, ...await adminCredentials(server) }, token: await adminToken(server) })
})

test.after.always(async t => { await t.context.stop?.() })

/** Waits for the player page and starts collecting every hls.js error it reports. */
async function collectHlsErrors (page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as PlayerWindow).cidcast?.hls != null)
  await page.evaluate(() => {
    const w = window as unknown as PlayerWindow
    w.hlsErrors = []
    w.cidcast?.hls.on(w.Hls.Events.ERROR, (_event, data) => {
      w.hlsErrors?.push({ type: data.type, details: data.details, fatal: data.fatal })
    })
  })
}

async function hlsErrors (page: Page): Promise<HlsErrorRecord[]> {
  return await page.evaluate(() => (window as unknown as PlayerWindow).hlsErrors ?? [])
}

/**
 * The errors that mean something went wrong: hls.js also reports its own cancellation of a load it no longer
 * needs (`aborted`, "an internal call to abort a loader") whenever a seek or a level switch makes it stale.
 */
function failures (errors: HlsErrorRecord[]): HlsErrorRecord[] {
  return errors.filter(e => e.fatal || e.details !== 'aborted')
}

async function currentTime (page: Page): Promise<number> {
  return await page.evaluate(() => (window as unknown as PlayerWindow).cidcast?.video.currentTime ?? -1)
}

/** What the player was doing: a wait on it that times out says this rather than only that it timed out. */
async function playerState (page: Page): Promise<string> {
  return await page.evaluate(() => {
    const w = window as unknown as PlayerWindow
    const c = w.cidcast
    if (c == null) return 'no player on the page'
    const v = c.video
    const buffered = Array.from({ length: v.buffered.length }, (_, i) => `${v.buffered.start(i).toFixed(1)}-${v.buffered.end(i).toFixed(1)}`)
    return JSON.stringify({
      currentTime: v.currentTime,
      paused: v.paused,
      ended: v.ended,
      readyState: v.readyState,
      videoHeight: v.videoHeight,
      buffered,
      currentLevel: c.hls.levels[c.hls.currentLevel]?.name ?? c.hls.currentLevel,
      loadLevel: c.hls.loadLevel,
      errors: w.hlsErrors
    })
  }).catch((err: Error) => `the page did not answer: ${err.message}`)
}

/** Awaits a wait on the media of `page`; a timeout fails with `what` and the player's state. */
async function untilPlayer (page: Page, what: string, waiting: Promise<unknown>): Promise<void> {
  try {
    await waiting
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err
    throw new Error(`${what}: not within ${MEDIA_TIMEOUT_MS} ms; the player: ${await playerState(page)}`)
  }
}

/** Resolves once the video plays past `seconds`. */
async function playsPast (page: Page, seconds: number): Promise<void> {
  await untilPlayer(page, `playing past ${seconds} s`, page.waitForFunction(s => {
    const video = (window as unknown as PlayerWindow).cidcast?.video
    return video != null && !video.paused && video.currentTime > s
  }, seconds, { timeout: MEDIA_TIMEOUT_MS }))
}

/** The position the server keeps for the account of `token` (the page's signed-in user) in a media. */
async function savedPosition (url: string, token: string, mediaId: string): Promise<number | null> {
  const res = await fetch(`${url}/api/v1/media/${mediaId}/progress`, { headers: bearer(token) })
  return ((await res.json()) as { positionSeconds: number | null }).positionSeconds
}

test.serial('the library lists a media whose page plays, switches quality, seeks and resumes where the viewer left', async t => {
  const page = await openPage(t, t.context.browser, { viewport: { width: 1280, height: 800 }, signIn: t.context.signIn })
  const { clipId } = t.context
  await page.goto(`${t.context.url}/`)
  const card = page.locator(`.media-card[data-id="${clipId}"]`)
  await card.waitFor()
  t.is((await card.locator('.card-title').textContent()), 'h264-aac-720p-30s')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'ui-library.png') })

  const started = Date.now()
  await card.click()
  await collectHlsErrors(page)
  await playsPast(page, 1)
  t.log(`playing past 1 s after ${Date.now() - started} ms`)

  // Auto plus one entry per profile the API lists, best first
  const media = await (await fetch(`${t.context.url}/api/v1/media/${clipId}`, { headers: bearer(t.context.token) })).json() as { renditions: Array<{ profile: string, height: number }> }
  const profiles = [...media.renditions].sort((a, b) => b.height - a.height).map(r => r.profile)
  const labels = await page.locator('#quality option').allTextContents()
  t.regex(labels[0], /^Auto/)
  t.deepEqual(labels.slice(1), profiles)

  const lowest = profiles[profiles.length - 1]
  const switchStarted = Date.now()
  await page.selectOption('#quality', { label: lowest })
  const height = media.renditions.find(r => r.profile === lowest)?.height
  await untilPlayer(page, `playing ${lowest}`, page.waitForFunction(([name, h]) => {
    const c = (window as unknown as PlayerWindow).cidcast
    return c != null && c.hls.levels[c.hls.currentLevel]?.name === name && c.video.videoHeight === h && !c.video.paused
  }, [lowest, height] as const, { timeout: MEDIA_TIMEOUT_MS }))
  t.log(`switched to ${lowest} after ${Date.now() - switchStarted} ms`)
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'ui-player.png') })

  // a seek far ahead plays on from there
  const errorsBeforeSeek = await hlsErrors(page)
  const seekStarted = Date.now()
  await page.evaluate(() => { const v = (window as unknown as PlayerWindow).cidcast?.video; if (v != null) v.currentTime = 20 })
  await playsPast(page, 21)
  t.true(await currentTime(page) < 25, 'playback continues from the seek point')
  t.log(`played past 21 s after ${Date.now() - seekStarted} ms from the seek`)
  t.deepEqual(failures((await hlsErrors(page)).slice(errorsBeforeSeek.length)), [], 'the seek raises no hls.js error')

  // back into the part worth resuming (after 5 s, before the last 10), then pause: the page saves the position
  await page.evaluate(() => { const v = (window as unknown as PlayerWindow).cidcast?.video; if (v != null) v.currentTime = 12 })
  await playsPast(page, 12.5)
  const paused = await page.evaluate(() => {
    const v = (window as unknown as PlayerWindow).cidcast?.video
    v?.pause()
    return Math.round((v?.currentTime ?? 0) * 10) / 10
  })
  // the position is the signed-in account's, the same account as the test's token
  t.is(await page.locator('#user-name').textContent(), t.context.signIn.username)
  await waitFor(async () => await savedPosition(t.context.url, t.context.token, clipId) === paused, 10_000, `the saved position ${paused}`)
  const errors = await hlsErrors(page)
  t.log('hls.js errors before the reload:', errors)
  t.deepEqual(errors.filter(e => e.fatal), [])
  t.true(await page.locator('#error').isHidden())

  await page.reload()
  const resume = page.locator('#resume')
  await resume.waitFor()
  t.is(await resume.textContent(), `Continue from 0:${String(Math.floor(paused)).padStart(2, '0')}`)
  t.true(await page.locator('#start-over').isVisible())
  await collectHlsErrors(page)
  await resume.click()
  await untilPlayer(page, 'playing on from the saved position', page.waitForFunction(() => {
    const v = (window as unknown as PlayerWindow).cidcast?.video
    return v != null && !v.paused && v.readyState >= v.HAVE_FUTURE_DATA
  }, undefined, { timeout: MEDIA_TIMEOUT_MS }))
  const resumedAt = await currentTime(page)
  t.true(Math.abs(resumedAt - paused) < 3, `resumed at ${resumedAt}, saved ${paused}`)
  await playsPast(page, resumedAt + 0.5)
  t.deepEqual(failures(await hlsErrors(page)), [], 'resuming raises no hls.js error')

  // leaving the page while playing saves the position (pagehide, keepalive) and the library offers to continue
  await page.evaluate(() => { const v = (window as unknown as PlayerWindow).cidcast?.video; if (v != null) v.currentTime = 7 })
  await playsPast(page, 7.5)
  const left = await currentTime(page)
  await page.goto('about:blank')
  // the 5 s ticker and the seek saved earlier positions; only the save on leaving can be this late
  const saved = await waitFor(async () => {
    const position = await savedPosition(t.context.url, t.context.token, clipId)
    return position != null && position >= left - 0.1 && position < 12 ? position : undefined
  }, 10_000, `a saved position of at least ${left}`)
  await page.goto(`${t.context.url}/`)
  const cont = page.locator(`.continue-card[data-id="${clipId}"]`)
  await cont.waitFor()
  t.is(await cont.locator('.card-title').textContent(), 'h264-aac-720p-30s')
  t.is(Number(await cont.locator('[role=progressbar]').getAttribute('aria-valuenow')), Math.round(saved))
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'ui-library-continue.png') })
})

test.serial('a title with markup shows as text on the library and the player page', async t => {
  const dir = await tempDir('cidcast-ui-title-')
  t.teardown(dir.remove)
  const file = join(dir.path, `${HOSTILE_TITLE}.mp4`)
  await copyFile(await fixture('h264-aac-10s'), file)
  const res = await fetch(`${t.context.url}/api/v1/media`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(t.context.token) }, body: JSON.stringify({ path: file })
  })
  t.true(res.ok, `adding the file answers ${res.status}`)
  const { id } = await res.json() as { id: string }

  const page = await openPage(t, t.context.browser, { viewport: { width: 1280, height: 800 }, signIn: t.context.signIn })
  await page.goto(`${t.context.url}/`)
  const card = page.locator(`.media-card[data-id="${id}"]`)
  await card.waitFor()
  t.is(await card.locator('.card-title').textContent(), HOSTILE_TITLE)
  // posters (frames of the video) are the only pictures: markup in the title made none
  t.is(await page.locator('main img:not([src^="/api/v1/images/"])').count(), 0)

  await card.click()
  const title = page.locator('.player-page h1')
  await title.waitFor()
  t.is(await title.textContent(), HOSTILE_TITLE)
  t.is(await page.title(), `${HOSTILE_TITLE} · cidcast`)
  t.is(await page.locator('main img:not([src^="/api/v1/images/"])').count(), 0)
  t.is(await page.evaluate(() => (window as unknown as PlayerWindow).pwned), undefined)
})

test.serial('an unknown media shows the API error', async t => {
  const page = await openPage(t, t.context.browser, { viewport: { width: 1280, height: 800 }, signIn: t.context.signIn })
  await page.goto(`${t.context.url}/#/media/no-such-media`)
  const error = page.locator('#error')
  await error.waitFor()
  t.regex(await error.textContent() ?? '', /^Could not open the media: MediaNotFoundError: /)
})
