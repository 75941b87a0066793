import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, openPage } from '../helpers/browser.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { OpenPageOptions } from '../helpers/browser.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { Browser, Page } from 'playwright-core'

interface Context {
  server: RunningServer
  browser: Browser
  /** Pages sign in as the first admin; the test's own API calls use an API token of theirs. */
  as: OpenPageOptions
  token: string
  library: string
  /** Movie titles in the order the server added them. */
  added: string[]
  stop: () => Promise<void>
}

const test = anyTest as TestFn<Context>
/** Set to a folder to keep screenshots of the pages. */
const SCREENSHOTS = process.env.CIDCAST_SCREENSHOTS
/** Adds at once: each add waits mostly on two ffprobe processes. */
const ADD_CONCURRENCY = 3
/** More than one page of the API (100). */
const NUMBERED_MOVIES = 128

/** `Movie N (1880 + N)`: numbers that sort wrongly as text (Movie 10 before Movie 9), each with its own year. */
function numbered (n: number): { title: string, year: number, path: string } {
  return { title: `Movie ${n}`, year: 1880 + n, path: `Movies/Movie ${n} (${1880 + n}).m4a` }
}

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-e2e-library-')
  parts.push(dir.remove)
  // no provider keys: titles come from the paths alone
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: { keys: {}, fetchImages: false }, accounts: TEST_ACCOUNTS })
  parts.push(server.stop)
  const { browser, close } = await launchBrowser()
  parts.push(close)
  Object.assign(t.context, { server, browser, as: { signIn: { url: server.url, ...await adminCredentials(server) } }, token: await adminToken(server), library: join(dir.path, 'library'), added: [] })
})

test.after.always(async t => { await t.context.stop?.() })

/** Adds files (paths under the library folder) through the API, a few at a time; answers each one's title and time of adding. */
async function addAll (t: ExecutionContext<Context>, paths: string[]): Promise<Array<{ path: string, title: string, createdAt: string }>> {
  const clip = await fixture('audio-only-8s')
  const added: Array<{ path: string, title: string, createdAt: string }> = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++]
      const file = await placeClip(clip, join(t.context.library, path))
      const res = await fetch(`${t.context.server.url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(t.context.token) }, body: JSON.stringify({ path: file }) })
      if (res.status !== 201) throw new Error(`adding ${path} answered ${res.status}: ${await res.text()}`)
      const media = await res.json() as { title: string, createdAt: string }
      added.push({ path, title: media.title, createdAt: media.createdAt })
    }
  }
  await Promise.all(Array.from({ length: ADD_CONCURRENCY }, worker))
  await t.context.server.metadata.idle()
  return added
}

async function cardTitles (page: Page, shelf: string): Promise<string[]> {
  return await page.locator(`#${shelf}-grid .card-title`).allTextContents()
}

/** Waits until the shelf shows `count` cards. */
async function cardsShown (page: Page, shelf: string, count: number): Promise<void> {
  await page.waitForFunction(([id, n]) => document.querySelectorAll(`#${id}-grid .media-card`).length === n, [shelf, count] as const)
}

/** Picks a sort (and a direction) from the menus at the top of the library, as a viewer would: scrolled up to them. */
async function chooseOrder (page: Page, sort: string, order?: string): Promise<void> {
  // were the page left scrolled to the end, the shorter grid would pull "Load more" into view and load on its own
  await page.locator('#library-sort').scrollIntoViewIfNeeded()
  await page.selectOption('#library-sort', sort)
  if (order != null) await page.selectOption('#library-order', order)
}

test.serial('an empty library says how to add a video, and shows no shelves', async t => {
  const page = await openPage(t, t.context.browser, t.context.as)
  await page.goto(`${t.context.server.url}/`)
  const empty = page.locator('.shelf .empty')
  await empty.waitFor()
  t.is(await empty.textContent(), 'Nothing here yet. Add a video with cidcast add <file>.')
  t.is(await page.locator('.media-card').count(), 0)
  t.false(await page.locator('#movies').isVisible())
  t.false(await page.locator('#other').isVisible())
})

test.serial('every title of a library larger than a page is reachable, counted and in natural title order', async t => {
  // added in a shuffled order, so neither the date added nor the ids follow the titles
  const movies = [...Array.from({ length: NUMBERED_MOVIES }, (_, i) => numbered(i + 1).path), 'Movies/The Matrix (1999).m4a', 'Movies/Alien (1979)/Alien (1979).m4a']
  const shuffled = movies.map((path, i) => ({ path, k: (i * 7919) % movies.length })).sort((a, b) => a.k - b.k).map(m => m.path)
  const extras = ['Movies/Alien (1979)/trailers/Alien trailer.m4a', 'samples/cidcast-sample.m4a', 'TV/Show (2020)/Season 01/Show - S01E01.m4a']
  const started = Date.now()
  const added = await addAll(t, [...shuffled, ...extras])
  t.log(`added ${added.length} media in ${Date.now() - started} ms`)
  // the server's times of adding (strictly increasing) say the order; pushed in place, as each test gets a shallow copy of the context
  t.context.added.push(...added.filter(m => m.path.startsWith('Movies/') && !m.path.includes('/trailers/'))
    .toSorted((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt)).map(m => m.title))

  const page = await openPage(t, t.context.browser, t.context.as)
  await page.goto(`${t.context.server.url}/`)
  await page.locator('#movies-count').waitFor()
  t.is(await page.locator('#movies-count').textContent(), '130 titles')
  t.is(await page.locator('#library-total').textContent(), '133 videos')
  t.is(await page.locator('.shelf .empty').count(), 0, 'no empty-library text once anything is there')
  await cardsShown(page, 'movies', 100)
  t.is(await page.locator('#movies-more').textContent(), 'Load more (100 of 130 shown)')

  // scrolling to the end of the grid loads the rest
  await page.locator('#movies-more').scrollIntoViewIfNeeded()
  await cardsShown(page, 'movies', 130)
  t.false(await page.locator('#movies-more').isVisible(), 'nothing more to load')
  const expected = ['Alien', 'The Matrix', ...Array.from({ length: NUMBERED_MOVIES }, (_, i) => `Movie ${i + 1}`)]
  t.deepEqual(await cardTitles(page, 'movies'), expected, 'A to Z with numbers by value and "The" ignored')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'library-title.png') })
})

test.serial('extras get a row of their own apart from the movies, and a series its own card', async t => {
  const page = await openPage(t, t.context.browser, t.context.as)
  await page.goto(`${t.context.server.url}/`)
  await page.locator('#other-count').waitFor()
  t.is(await page.locator('#other-count').textContent(), '2 videos')
  t.deepEqual(await cardTitles(page, 'other'), ['Alien trailer', 'cidcast-sample'])
  t.deepEqual(await page.locator('#other-grid .meta').allTextContents(), ['trailer', 'sample'])
  t.is(await page.locator('#series-count').textContent(), '1 series')
  t.deepEqual(await page.locator('#series-grid .card-title').allTextContents(), ['Show'])
  for (const title of ['Alien trailer', 'cidcast-sample', 'Show - S01E01']) {
    t.is(await page.locator('#movies-grid .card-title', { hasText: title }).count(), 0, `${title} is not among the movies`)
  }
  if (SCREENSHOTS != null) {
    await page.screenshot({ path: join(SCREENSHOTS, 'library-top.png') })
    await page.locator('#other').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(SCREENSHOTS, 'library-other.png') })
  }
  // a click on an extra plays it
  await page.locator('#other-grid .media-card', { hasText: 'cidcast-sample' }).click()
  await page.locator('.player-page h1').waitFor()
  t.is(await page.locator('.player-page h1').textContent(), 'cidcast-sample')
})

test.serial('the sort menu orders the whole library by year or date added, and the choice is kept', async t => {
  const page = await openPage(t, t.context.browser, t.context.as)
  await page.goto(`${t.context.server.url}/`)
  await cardsShown(page, 'movies', 100)

  await chooseOrder(page, 'year')
  t.is(await page.inputValue('#library-order'), 'desc', 'years start with the newest')
  await page.waitForFunction(() => document.querySelector('#movies-grid .card-title')?.textContent === 'Movie 128')
  await cardsShown(page, 'movies', 100)
  await page.locator('#movies-more').scrollIntoViewIfNeeded()
  await cardsShown(page, 'movies', 130)
  const years = await page.locator('#movies-grid .meta').allTextContents()
  t.deepEqual(years.map(Number), years.map(Number).toSorted((a, b) => b - a), 'newest first over every page')
  t.deepEqual((await cardTitles(page, 'movies')).slice(0, 3), ['Movie 128', 'Movie 127', 'Movie 126'])

  await chooseOrder(page, 'added', 'asc')
  await page.waitForFunction(first => document.querySelector('#movies-grid .card-title')?.textContent === first, t.context.added[0])
  await cardsShown(page, 'movies', 100)
  await page.locator('#movies-more').scrollIntoViewIfNeeded()
  await cardsShown(page, 'movies', 130)
  t.deepEqual(await cardTitles(page, 'movies'), t.context.added, 'oldest first, as they were added')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'library-added.png') })

  await page.reload()
  await cardsShown(page, 'movies', 100)
  t.is(await page.inputValue('#library-sort'), 'added')
  t.is(await page.inputValue('#library-order'), 'asc')
  t.is(await page.locator('#movies-grid .card-title').first().textContent(), t.context.added[0])
})
