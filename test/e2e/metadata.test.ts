import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startProviderStub } from '../../fixtures/providers/stub-server.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { placeClip, stubConfig } from '../core/metadata/helpers.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, openPage } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ProviderStub } from '../../fixtures/providers/stub-server.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { RunningServer, StartServerOptions } from '../../node/server.ts'
import type { TestFn } from 'ava'
import type { Browser, Page } from 'playwright-core'

interface Context {
  /** A holder: ava gives each test a shallow copy of the context, and the restart test replaces the server. */
  live: { server: RunningServer }
  options: StartServerOptions
  browser: Browser
  /** The first admin's, kept across the restart (the catalog keeps the account and its sessions). */
  admin: Credentials
  stub: ProviderStub
  ids: Record<string, string>
  dir: string
  stop: () => Promise<void>
}

const test = anyTest as TestFn<Context>
/** Set to a folder to keep screenshots of the pages. */
const SCREENSHOTS = process.env.CIDCAST_SCREENSHOTS
const EDITED = 'The Matrix (edited in the UI)'
const HOSTILE = '<img src=x onerror=window.pwned=1> plot'

const FILES: Record<string, string> = {
  matrix: 'Movies/The Matrix (1999)/The Matrix (1999).mp4',
  reloaded: 'Movies/The.Matrix.Reloaded.2003.1080p.BluRay.x264.mp4',
  pilot: 'TV/Breaking Bad (2008)/Season 01/Breaking Bad - S01E01.mp4',
  cat: 'TV/Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mp4'
}

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => {
    await t.context.live?.server.stop()
    for (const stop of parts.toReversed()) await stop()
  }
  const dir = await tempDir('cidcast-e2e-metadata-')
  parts.push(dir.remove)
  const stub = await startProviderStub()
  parts.push(stub.stop)
  const options: StartServerOptions = { dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: stubConfig(stub), accounts: TEST_ACCOUNTS }
  const server = await startServer(options)
  t.context.live = { server }
  const { browser, close } = await launchBrowser()
  parts.push(close)
  const clip = await fixture('h264-aac-10s')
  const ids: Record<string, string> = {}
  for (const [name, path] of Object.entries(FILES)) ids[name] = (await server.addMedia(await placeClip(clip, join(dir.path, 'library', path)))).id
  await server.metadata.idle()
  Object.assign(t.context, { options, browser, admin: await adminCredentials(server), stub, ids, dir: dir.path })
})

test.after.always(async t => { await t.context.stop?.() })

/** Whether every <img> matched by `selector` has loaded a picture, once each has finished loading or failed. */
async function imagesLoaded (page: Page, selector: string): Promise<boolean> {
  await page.waitForFunction(s => {
    const images = [...document.querySelectorAll(s)] as HTMLImageElement[]
    return images.length > 0 && images.every(i => i.complete)
  }, selector)
  return await page.locator(selector).evaluateAll(nodes => nodes.every(n => (n as HTMLImageElement).naturalWidth > 0))
}

test.serial('the library shows a poster grid of movies and series, and collections; series and season pages list episodes in order', async t => {
  const page = await openPage(t, t.context.browser, { signIn: { url: t.context.live.server.url, ...t.context.admin } })
  await page.goto(`${t.context.live.server.url}/`)
  const series = page.locator('.series-card').filter({ hasText: 'Breaking Bad' })
  await series.waitFor()
  const matrix = page.locator(`.media-card[data-id="${t.context.ids.matrix}"]`)
  t.is(await matrix.locator('.card-title').textContent(), 'The Matrix')
  t.is(await matrix.locator('.meta').textContent(), '1999')
  t.is(await page.locator(`.media-card[data-id="${t.context.ids.pilot}"]`).count(), 0, 'episodes are on their series page')
  t.is(await page.locator('.collection-card .card-title').textContent(), 'The Matrix Collection')
  t.true(await imagesLoaded(page, `.media-card[data-id="${t.context.ids.matrix}"] img`), 'the movie poster comes from /ipfs')
  t.true(await imagesLoaded(page, '.series-card img'), 'the series poster comes from /ipfs')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'metadata-library.png'), fullPage: true })

  await series.click()
  await page.locator('.series-page h1').waitFor()
  t.is(await page.locator('.series-page h1').textContent(), 'Breaking Bad')
  t.regex(await page.locator('.series-page .overview').textContent() ?? '', /Walter White/)
  await page.locator('.season-card[data-season="1"]').click()
  await page.locator('.season-page .item-row').first().waitFor()
  t.deepEqual(await page.locator('.season-page .item-row .card-title').allTextContents(), ['Pilot', 'Cat\'s in the Bag...'])
  t.deepEqual(await page.locator('.season-page .item-row .meta').allTextContents(), ['S01E01 · 0:10', 'S01E02 · 0:10'])
  t.true(await imagesLoaded(page, '.season-page .item-row img'), 'episode stills load')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'metadata-season.png'), fullPage: true })
  await page.locator(`.item-row[data-id="${t.context.ids.cat}"]`).click()
  await page.locator('.player-page h1').waitFor()
  t.is(await page.locator('.player-page h1').textContent(), 'Cat\'s in the Bag...')
  t.is(await page.locator('.media-info .subtitle').textContent(), 'Breaking Bad · S01E02 · 2008')
})

test.serial('search by title finds movies and series', async t => {
  const page = await openPage(t, t.context.browser, { signIn: { url: t.context.live.server.url, ...t.context.admin } })
  await page.goto(`${t.context.live.server.url}/`)
  await page.fill('#search-input', 'matrix')
  await page.press('#search-input', 'Enter')
  await page.locator('.search-results .item-row').first().waitFor()
  t.deepEqual(await page.locator('.search-results .card-title').allTextContents(), ['The Matrix', 'The Matrix Reloaded'])
  await page.goto(`${t.context.live.server.url}/#/search/breaking`)
  await page.locator('.search-page .series-card').waitFor()
  t.is(await page.locator('.search-page .series-card .card-title').textContent(), 'Breaking Bad')
  await page.goto(`${t.context.live.server.url}/#/search/nothing-like-this`)
  await page.locator('.search-page .empty').waitFor()
})

test.serial('a title edited in the UI is shown after a server restart', async t => {
  const page = await openPage(t, t.context.browser, { signIn: { url: t.context.live.server.url, ...t.context.admin } })
  const id = t.context.ids.matrix
  await page.goto(`${t.context.live.server.url}/#/media/${id}`)
  await page.locator('.media-info .subtitle').waitFor()
  t.is(await page.locator('.media-info .subtitle').textContent(), '1999 · The Matrix Collection')
  await page.locator('#next-item').waitFor()
  t.is(await page.locator('#next-item').textContent(), 'The Matrix Reloaded')

  await page.locator('#edit-metadata').click()
  await page.locator('#metadata-form').waitFor()
  t.is(await page.inputValue('#field-title'), 'The Matrix')
  await page.fill('#field-title', EDITED)
  await page.fill('#field-overview', HOSTILE)
  await page.click('#save')
  await page.waitForFunction(() => document.getElementById('edit-status')?.textContent === 'Saved')
  t.is(await page.inputValue('#field-title'), EDITED)
  t.regex(await page.locator('.history tr').first().textContent() ?? '', /edit by user/)
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'metadata-edit.png'), fullPage: true })

  await t.context.live.server.stop()
  t.context.live.server = await startServer(t.context.options)
  const url = t.context.live.server.url
  await page.goto(`${url}/#/media/${id}`)
  await page.locator('.player-page h1').waitFor()
  t.is(await page.locator('.player-page h1').textContent(), EDITED)
  t.is(await page.locator('.media-info .overview').textContent(), HOSTILE)
  t.is(await page.locator('main img[src="x"]').count(), 0)
  t.is(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined)
  await page.goto(`${url}/`)
  await page.locator(`.media-card[data-id="${id}"]`).waitFor()
  t.is(await page.locator(`.media-card[data-id="${id}"] .card-title`).textContent(), EDITED)
  const api = await (await fetch(`${url}/api/v1/media/${id}`, { headers: bearer(await adminToken(t.context.live.server)) })).json() as { title: string, locked: string[] }
  t.is(api.title, EDITED)
  t.deepEqual(api.locked, ['overview', 'title'])
})

test.serial('identify in the UI lists matches and applies the one picked', async t => {
  const page = await openPage(t, t.context.browser, { signIn: { url: t.context.live.server.url, ...t.context.admin } })
  const id = t.context.ids.reloaded
  await page.goto(`${t.context.live.server.url}/#/media/${id}/edit`)
  await page.locator('#find-matches').waitFor()
  await page.fill('#identify-query', 'The Matrix')
  await page.click('#find-matches')
  const revolutions = page.locator('#matches li[data-provider="tmdb"][data-match-id="605"]')
  await revolutions.waitFor()
  await revolutions.locator('.use-match').click()
  await page.waitForFunction(() => document.getElementById('edit-status')?.textContent === 'Identified as The Matrix Revolutions')
  t.is(await page.inputValue('#field-title'), 'The Matrix Revolutions')
  // and back, through the history
  await page.locator('.history tr').first().locator('.revert').click()
  await page.waitForFunction(() => /^Reverted change/.test(document.getElementById('edit-status')?.textContent ?? ''))
  t.is(await page.inputValue('#field-title'), 'The Matrix Reloaded')
})

test.serial('a CDN node\'s UI shows the same titles, series and posters as the main server', async t => {
  const main = t.context.live.server
  const node = await startNode({
    dataDir: join(t.context.dir, 'node'),
    swarmKeyFile: join(t.context.dir, 'data', 'swarm.key'),
    server: main.url,
    name: 'metadata node',
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500
  })
  t.teardown(node.stop)
  // the node learns that media are public when it registers
  await waitFor(() => node.status().state === 'registered', 20_000, 'the node to register')
  // the node's API proxy passes the caller's token on to the main server
  const headers = bearer(await adminToken(main))
  for (const id of Object.values(t.context.ids)) {
    const [there, here] = await Promise.all([main.url, node.url].map(async base => await (await fetch(`${base}/api/v1/media/${id}`, { headers })).json() as Record<string, unknown>))
    for (const key of ['title', 'year', 'overview', 'ids', 'series', 'season', 'episode', 'images']) t.deepEqual(here[key], there[key], `${id} ${key}`)
  }
  // signed in on the node's own site, through its API proxy
  const page = await openPage(t, t.context.browser, { signIn: { url: node.url, ...t.context.admin } })
  await page.goto(`${node.url}/`)
  const series = page.locator('.series-card').filter({ hasText: 'Breaking Bad' })
  await series.waitFor()
  const matrix = page.locator(`.media-card[data-id="${t.context.ids.matrix}"]`)
  t.is(await matrix.locator('.card-title').textContent(), EDITED)
  t.true(await imagesLoaded(page, `.media-card[data-id="${t.context.ids.matrix}"] img`), 'the poster loads through the node\'s /ipfs gateway')
  t.true(await imagesLoaded(page, '.series-card img'))
  const poster = (await (await fetch(`${node.url}/api/v1/media/${t.context.ids.matrix}`, { headers })).json() as { images: { poster: { url: string } } }).images.poster.url
  const [fromNode, fromMain] = await Promise.all([node.url, main.url].map(async base => Buffer.from(await (await fetch(base + poster)).arrayBuffer())))
  t.deepEqual(fromNode, fromMain)
})
