import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, openPage } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { Browser } from 'playwright-core'

/*
 * A viewer's library folders in the web UI, in Chromium (issue 11, item 3): an admin limits a viewer on the admin
 * page, choosing from the server's watched folders, and the viewer's library then shows only what lies inside.
 * The server lets viewers order replication here (viewerReplication), so their player offers "Replicate here"; with
 * the setting off a viewer's does not (test/e2e/accounts.test.ts).
 */

interface Context {
  server: RunningServer
  browser: Browser
  admin: Credentials
  films: string
  kids: string
  /** Media ids by title. */
  ids: Record<string, string>
  stop: () => Promise<void>
}
const test = anyTest as TestFn<Context>
/** Set to a folder to keep screenshots of the pages. */
const SCREENSHOTS = process.env.CIDCAST_SCREENSHOTS

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-e2e-folders-')
  parts.push(dir.remove)
  const films = join(dir.path, 'library', 'films')
  const kids = join(dir.path, 'library', 'kids')
  const clip = await fixture('audio-only-8s')
  await placeClip(clip, join(films, 'Alpha (2001).m4a'))
  await placeClip(clip, join(films, 'Gamma (2003).m4a'))
  await placeClip(clip, join(kids, 'Beta (2002).m4a'))
  // no provider keys: titles come from the paths; the watched folders find the files and are the page's suggestions
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: { keys: {}, fetchImages: false }, accounts: TEST_ACCOUNTS, library: [films, kids], viewerReplication: true })
  parts.push(server.stop)
  await waitFor(async () => await server.library.count() === 3, 60_000, 'the watched folders\' media')
  await server.metadata.idle()
  const ids = Object.fromEntries((await server.library.list({ limit: 10 })).map(m => [m.title, m.id]))
  const { browser, close } = await launchBrowser()
  parts.push(close)
  Object.assign(t.context, { server, browser, admin: await adminCredentials(server), films, kids, ids })
})

test.after.always(async t => { await t.context.stop?.() })

/** A viewer with a known password, made on first use. */
async function viewer (t: ExecutionContext<Context>, name: string): Promise<Credentials> {
  const password = `${name}-password`
  await t.context.server.accounts.getUser(name).catch(async () => await t.context.server.accounts.addUser({ name, role: 'viewer', password }))
  return { username: name, password }
}

test.serial('an admin limits a viewer to a folder on the admin page, and the viewer\'s library then lists only what lies inside', async t => {
  const { server, films, kids } = t.context
  const vera = await viewer(t, 'vera')
  const before = await openPage(t, t.context.browser, { signIn: { url: server.url, ...vera } })
  await before.goto(`${server.url}/`)
  await before.waitForFunction(() => document.querySelectorAll('#movies-grid .card-title').length === 3)

  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...t.context.admin } })
  await page.goto(`${server.url}/#/admin`)
  const row = page.locator('#users-table .user-row[data-name="vera"]')
  await row.waitFor()
  t.is(await row.locator('.folders-cell > span').textContent(), 'All folders')
  t.is(await page.locator('#users-table .user-row[data-name="admin"] .edit-folders').count(), 0, 'an admin sees every folder: nothing to edit')
  t.deepEqual(await page.locator('#library-folder-suggestions option').evaluateAll(options => options.map(o => (o as HTMLOptionElement).value)), [films, kids].sort(), 'the watched folders are offered')

  await row.locator('.edit-folders').click()
  const editor = row.locator('.folders-editor')
  t.true(await editor.locator('.all-folders').isChecked())
  t.true(await editor.locator('.folder-path').isDisabled(), 'no path to type while every folder is allowed')
  await editor.locator('.all-folders').uncheck()
  await editor.locator('.folder-path').fill(films)
  // a second row, left empty, is not a folder
  await editor.locator('.add-folder').click()
  t.is(await editor.locator('.folder-path').count(), 2)
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'admin-folders.png'), fullPage: true })
  await editor.locator('.save-folders').click()
  await row.locator('.folder-summary li').waitFor()
  t.deepEqual(await row.locator('.folder-summary li').allTextContents(), [films])
  t.deepEqual((await server.accounts.getUser('vera')).folders, [films])

  // the viewer's next look at the library (a new page load) shows only the films
  await before.goto(`${server.url}/#/search`)
  await before.goto(`${server.url}/`)
  await before.waitForFunction(() => document.querySelectorAll('#movies-grid .card-title').length === 2)
  t.deepEqual((await before.locator('#movies-grid .card-title').allTextContents()).sort(), ['Alpha', 'Gamma'])
  t.is(await before.locator('#library-total').textContent(), '2 videos')
  await before.goto(`${server.url}/#/media/${t.context.ids.Beta}`)
  await before.locator('#error').waitFor()
  t.regex(await before.locator('#error').textContent() ?? '', /MediaNotFoundError/, 'a media outside the folder is not found')

  // and back to every folder from the same editor
  await row.locator('.edit-folders').click()
  await row.locator('.folders-editor .all-folders').check()
  await row.locator('.folders-editor .save-folders').click()
  // the list went when the editor opened; the editor goes once the save is answered and the page drawn again
  await row.locator('.folders-editor').waitFor({ state: 'detached' })
  t.is(await row.locator('.folder-summary').count(), 0)
  t.is((await server.accounts.getUser('vera')).folders, null)
})

test.serial('a viewer\'s player offers "Replicate here" where the server lets viewers order replication', async t => {
  const { server } = t.context
  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...await viewer(t, 'rudi') } })
  await page.goto(`${server.url}/#/media/${t.context.ids.Alpha}`)
  await page.locator('.player-page h1').waitFor()
  await page.locator('#replicate-here').waitFor({ state: 'attached' })
  t.is(await page.locator('#user-role').textContent(), 'viewer')
  t.false(await page.locator('#replicate-here').evaluate(b => (b as HTMLButtonElement).hidden))
  t.is(await page.locator('#edit-metadata').count(), 0, 'still no admin control')
})
