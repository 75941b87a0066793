import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { SESSION_COOKIE } from '../../gateway/access/authenticate.ts'
import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS, bearer, login } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, logInThroughPage, openPage } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { Browser, Page } from 'playwright-core'

/*
 * Accounts in the web UI, in Chromium (issue 11, items 2 and 7): the login page and its errors, the HttpOnly
 * session cookie, logging out, the user menu, what a viewer does not see, the admin page's users and API tokens,
 * progress kept per account, and the same login on a CDN node's own site through its API proxy.
 */

interface Context {
  dir: string
  server: RunningServer
  browser: Browser
  admin: Credentials
  /** A 30 s media: long enough for a resumable position (after 5 s, before the last 10). */
  id: string
  stop: () => Promise<void>
}

const test = anyTest as TestFn<Context>
/** Set to a folder to keep screenshots of the pages. */
const SCREENSHOTS = process.env.CIDCAST_SCREENSHOTS

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-e2e-accounts-')
  parts.push(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  parts.push(server.stop)
  const { browser, close } = await launchBrowser()
  parts.push(close)
  const media = await server.addMedia(await fixture('h264-aac-720p-30s'))
  Object.assign(t.context, { dir: dir.path, server, browser, admin: await adminCredentials(server), id: media.id })
})

test.after.always(async t => { await t.context.stop?.() })

/** A viewer with a known password, made on first use. */
async function viewer (t: ExecutionContext<Context>, name: string): Promise<Credentials> {
  const password = `${name}-password`
  await t.context.server.accounts.getUser(name).catch(async () => await t.context.server.accounts.addUser({ name, role: 'viewer', password }))
  return { username: name, password }
}

/** The status of an API call the page makes itself (with its cookie, as the UI does). */
async function pageStatus (page: Page, path: string): Promise<number> {
  return await page.evaluate(async p => (await fetch(p)).status, path)
}

async function sessionCookie (page: Page): Promise<{ value: string, httpOnly: boolean } | undefined> {
  return (await page.context().cookies()).find(c => c.name === SESSION_COOKIE)
}

/** Accepts the confirm() dialogs the page opens (removing, resetting). */
function acceptDialogs (page: Page): void {
  page.on('dialog', dialog => { void dialog.accept() })
}

test.serial('a wrong password shows the error on the login page and sets no cookie', async t => {
  const { server, admin } = t.context
  const page = await openPage(t, t.context.browser)
  await page.goto(`${server.url}/`)
  await page.locator('#login-form').waitFor()
  t.true(new URL(page.url()).hash.startsWith('#/login'), 'the library sends a visitor to the login page')
  await page.fill('#login-username', admin.username)
  await page.fill('#login-password', 'not the password')
  await page.click('#login-submit')
  const error = page.locator('#login-error')
  await error.waitFor()
  t.is(await error.textContent(), 'Wrong user name or password.')
  t.is(await sessionCookie(page), undefined)
  t.is(await pageStatus(page, '/api/v1/auth/me'), 401)
  t.is(await page.locator('#user-menu details').count(), 0, 'no user menu while nobody is signed in')
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'accounts-login-error.png') })
})

test.serial('logging in shows the library and the user menu, and returns to the page the person was on', async t => {
  const { server, admin, id } = t.context
  const page = await openPage(t, t.context.browser)
  await page.goto(`${server.url}/#/media/${id}`)
  await page.locator('#login-form').waitFor()
  t.is(new URL(page.url()).hash, `#/login?next=${encodeURIComponent(`#/media/${id}`)}`)
  await page.fill('#login-username', admin.username)
  await page.fill('#login-password', admin.password)
  await page.click('#login-submit')
  await page.locator('.player-page h1').waitFor()
  t.is(new URL(page.url()).hash, `#/media/${id}`)
  t.is(await page.locator('#user-name').textContent(), 'admin')
  t.is(await page.locator('#user-role').textContent(), 'admin')

  await page.goto(`${server.url}/`)
  await page.locator(`.media-card[data-id="${id}"]`).waitFor()
  t.is(await page.locator(`.media-card[data-id="${id}"] .card-title`).textContent(), 'h264-aac-720p-30s')
  await page.locator('#user-menu summary').click()
  t.deepEqual(await page.locator('#user-menu [role=menuitem]').allTextContents(), ['Change password', 'Users and tokens', 'Log out'])
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'accounts-menu.png') })
})

test.serial('the session cookie is HttpOnly: the page\'s script cannot read it', async t => {
  const { server, admin } = t.context
  const page = await openPage(t, t.context.browser)
  await logInThroughPage(page, server.url, admin)
  const cookie = await sessionCookie(page)
  t.truthy(cookie?.value)
  t.true(cookie?.httpOnly)
  t.false((await page.evaluate(() => document.cookie)).includes(cookie?.value ?? 'no cookie'))
  t.is(await page.evaluate(() => document.cookie), '')
  t.is(await pageStatus(page, '/api/v1/auth/me'), 200, 'yet the browser sends it')
})

test.serial('logging out returns to the login page and the API answers 401 again', async t => {
  const { server, admin } = t.context
  const page = await openPage(t, t.context.browser)
  await logInThroughPage(page, server.url, admin)
  await page.locator('#user-name').waitFor()
  const before = await sessionCookie(page)
  t.truthy(before)
  await page.locator('#user-menu summary').click()
  await page.locator('#menu-logout').click()
  await page.locator('#login-form').waitFor()
  t.is(new URL(page.url()).hash, '#/login')
  t.is(await page.locator('#user-menu details').count(), 0)
  t.is(await pageStatus(page, '/api/v1/auth/me'), 401)
  t.is(await sessionCookie(page), undefined, 'the cookie is gone')
  const old = await fetch(`${server.url}/api/v1/auth/me`, { headers: bearer(before?.value ?? '') })
  t.is(old.status, 401, 'the session itself has ended, not just the cookie')
  // and back to the library goes to the login page again
  await page.goto(`${server.url}/#/`)
  await page.waitForFunction(() => window.location.hash.startsWith('#/login'))
})

test.serial('a viewer sees no admin controls and no admin page; what the server refuses shows its message', async t => {
  const { server, id } = t.context
  const alice = await viewer(t, 'alice')
  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...alice } })
  await page.goto(`${server.url}/#/media/${id}`)
  await page.locator('.player-page h1').waitFor()
  await page.locator('#replicate-here').waitFor({ state: 'attached' })
  t.is(await page.locator('#user-role').textContent(), 'viewer')
  t.is(await page.locator('#edit-metadata').count(), 0, 'no "Edit metadata"')
  t.true(await page.locator('#replicate-here').evaluate(b => (b as HTMLButtonElement).hidden), 'no "Replicate here" (viewerReplication is off: test/e2e/library-folders.test.ts shows it on)')
  await page.locator('#user-menu summary').click()
  t.deepEqual(await page.locator('#user-menu [role=menuitem]').allTextContents(), ['Change password', 'Log out'])

  await page.goto(`${server.url}/#/admin`)
  await page.locator('#admins-only').waitFor()
  t.is(await page.locator('#users-table, #tokens-table').count(), 0)
  t.is(await pageStatus(page, '/api/v1/users'), 403)

  // the editor's address typed by hand: the server's refusal, in words
  await page.goto(`${server.url}/#/media/${id}/edit`)
  await page.locator('#error').waitFor()
  t.is(await page.locator('#error').textContent(), 'Could not open the editor: PermissionDeniedError: this needs the admin role')
  t.is(await page.locator('#metadata-form').count(), 0)

  // the same pages as an admin do show those controls: the checks above can fail
  const admin = await openPage(t, t.context.browser, { signIn: { url: server.url, ...t.context.admin } })
  await admin.goto(`${server.url}/#/media/${id}`)
  await admin.locator('#edit-metadata').waitFor()
  t.false(await admin.locator('#replicate-here').evaluate(b => (b as HTMLButtonElement).hidden))
})

test.serial('a user changes their own password from the menu and stays signed in', async t => {
  const { server } = t.context
  const ivy = await viewer(t, 'ivy')
  const page = await openPage(t, t.context.browser)
  await logInThroughPage(page, server.url, ivy)
  await page.locator('#user-menu summary').click()
  await page.locator('#menu-password').click()
  await page.locator('#password-form').waitFor()
  const status = page.locator('#password-status')
  const submit = async (current: string, next: string, again = next): Promise<void> => {
    await page.fill('#current-password', current)
    await page.fill('#new-password', next)
    await page.fill('#repeat-password', again)
    await page.click('#password-submit')
  }
  await submit(ivy.password, 'ivy-second-password', 'ivy-other-password')
  await page.locator('#password-status', { hasText: 'The two new passwords differ.' }).waitFor()
  await submit('not my password', 'ivy-second-password')
  await page.locator('#password-status', { hasText: 'The current password is wrong.' }).waitFor()
  await submit(ivy.password, 'ivy-second-password')
  await page.locator('#password-status', { hasText: 'Password changed.' }).waitFor()
  t.is(await status.textContent(), 'Password changed.')
  t.is(await pageStatus(page, '/api/v1/auth/me'), 200, 'signed in again with the new password')
  await t.throwsAsync(login(server.url, ivy.username, ivy.password), { message: /401/ })
  await t.notThrowsAsync(login(server.url, 'ivy', 'ivy-second-password'))
})

test.serial('an admin adds a viewer on the admin page, and that viewer logs in with the password shown once', async t => {
  const { server, admin } = t.context
  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...admin } })
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
  await page.goto(`${server.url}/`)
  await page.locator('#user-menu summary').click()
  await page.locator('#menu-admin').click()
  await page.locator('#users-table').waitFor()
  t.is(new URL(page.url()).hash, '#/admin')
  t.regex(await page.locator('#users-table .user-row[data-name="admin"][data-role="admin"]').innerText(), /admin \(you\)/)

  await page.fill('#new-user-name', 'carol')
  await page.selectOption('#new-user-role', 'viewer')
  await page.click('#add-user button[type=submit]')
  const secret = page.locator('#user-secret .secret-value')
  await secret.waitFor()
  const password = await secret.inputValue()
  t.true(password.length >= 8)
  await page.locator('#users-table .user-row[data-name="carol"][data-role="viewer"]').waitFor()
  await page.click('#user-secret .copy')
  await page.locator('#user-secret .copy-status', { hasText: 'Copied' }).waitFor()
  t.is(await page.evaluate(async () => await navigator.clipboard.readText()), password)
  if (SCREENSHOTS != null) await page.screenshot({ path: join(SCREENSHOTS, 'accounts-admin.png'), fullPage: true })
  // shown once: the page shows it no more after a reload
  await page.reload()
  await page.locator('#users-table .user-row[data-name="carol"]').waitFor()
  t.is(await page.locator('#user-secret').count(), 0)

  const carol = await openPage(t, t.context.browser)
  await logInThroughPage(carol, server.url, { username: 'carol', password })
  await carol.locator(`.media-card[data-id="${t.context.id}"]`).waitFor()
  t.is(await carol.locator('#user-name').textContent(), 'carol')
  t.is(await carol.locator('#user-role').textContent(), 'viewer')
})

test.serial('an admin resets a password (shown once, the old sessions end), changes a role, and cannot remove the last admin', async t => {
  const { server, admin } = t.context
  const dave = await viewer(t, 'dave')
  const daves = await openPage(t, t.context.browser, { signIn: { url: server.url, ...dave } })
  await daves.goto(`${server.url}/`)
  await daves.locator('#user-name').waitFor()

  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...admin } })
  acceptDialogs(page)
  await page.goto(`${server.url}/#/admin`)
  const row = page.locator('#users-table .user-row[data-name="dave"]')
  await row.locator('.reset-password').click()
  const secret = page.locator('#user-secret .secret-value')
  await secret.waitFor()
  const fresh = await secret.inputValue()
  t.not(fresh, dave.password)
  t.regex(await page.locator('#user-secret').innerText(), /New password of dave/)
  // dave's page finds its session ended: the next page it opens is the login page
  await daves.goto(`${server.url}/#/nodes`)
  await daves.waitForFunction(() => window.location.hash === `#/login?next=${encodeURIComponent('#/nodes')}`)
  await daves.fill('#login-username', 'dave')
  await daves.fill('#login-password', dave.password)
  await daves.click('#login-submit')
  await daves.locator('#login-error', { hasText: 'Wrong user name or password.' }).waitFor()
  await daves.fill('#login-password', fresh)
  await daves.click('#login-submit')
  await daves.locator('table.nodes').waitFor()

  // a role, changed and changed back
  await row.locator('.role-select').selectOption('admin')
  await page.locator('#users-table .user-row[data-name="dave"][data-role="admin"]').waitFor()
  t.is((await server.accounts.getUser('dave')).role, 'admin')
  await page.locator('#users-table .user-row[data-name="dave"] .role-select').selectOption('viewer')
  await page.locator('#users-table .user-row[data-name="dave"][data-role="viewer"]').waitFor()
  t.is((await server.accounts.getUser('dave')).role, 'viewer')

  // the last admin stays, and the page says why in the server's words
  await page.locator('#users-table .user-row[data-name="admin"] .remove-user').click()
  const error = page.locator('#error')
  await error.waitFor()
  t.regex(await error.textContent() ?? '', /^Could not remove admin: LastAdminError: /)
  t.is(await page.locator('#users-table .user-row[data-name="admin"]').count(), 1)
  t.is((await server.accounts.getUser('admin')).role, 'admin')

  // a viewer removed is gone from the list and can no longer call the API
  await page.locator('#users-table .user-row[data-name="dave"] .remove-user').click()
  await page.locator('#users-table .user-row[data-name="dave"]').waitFor({ state: 'detached' })
  t.is(await pageStatus(daves, '/api/v1/auth/me'), 401)
})

test.serial('an admin adds an API token (shown once, with a copy button), sees everyone\'s, and removes it', async t => {
  const { server, admin } = t.context
  // a viewer's token, listed only among everyone's
  await viewer(t, 'alice')
  await server.accounts.addApiToken('alice', 'alice script')
  const page = await openPage(t, t.context.browser, { signIn: { url: server.url, ...admin } })
  acceptDialogs(page)
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
  await page.goto(`${server.url}/#/admin`)
  await page.locator('#tokens-table').waitFor()
  t.is(await page.locator('#tokens-table .token-row[data-name="alice script"]').count(), 0, 'only the admin\'s own tokens at first')

  await page.fill('#new-token-name', 'backup script')
  await page.click('#add-token button[type=submit]')
  const secret = page.locator('#token-secret .secret-value')
  await secret.waitFor()
  const token = await secret.inputValue()
  t.regex(token, /^cca_/)
  await page.click('#token-secret .copy')
  await page.locator('#token-secret .copy-status', { hasText: 'Copied' }).waitFor()
  t.is(await page.evaluate(async () => await navigator.clipboard.readText()), token)
  const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: bearer(token) })
  t.is(me.status, 200)
  t.is((await me.json() as { name: string }).name, 'admin')
  const row = page.locator('#tokens-table .token-row[data-name="backup script"]')
  await row.waitFor()
  t.false((await row.innerText()).includes(token), 'the list never shows a token\'s text')

  await page.check('#all-tokens')
  const alices = page.locator('#tokens-table .token-row[data-name="alice script"]')
  await alices.waitFor()
  t.is(await alices.locator('.token-owner').textContent(), 'alice')

  await row.locator('.remove-token').click()
  await row.waitFor({ state: 'detached' })
  t.is((await fetch(`${server.url}/api/v1/auth/me`, { headers: bearer(token) })).status, 401, 'the removed token no longer works')
})

test.serial('resume is per account: one viewer\'s position is not another\'s', async t => {
  const { server, id } = t.context
  const [erin, frank] = [await viewer(t, 'erin'), await viewer(t, 'frank')]
  const progress = async (page: Page): Promise<number | null> =>
    await page.evaluate(async mediaId => (await (await fetch(`/api/v1/media/${mediaId}/progress`)).json() as { positionSeconds: number | null }).positionSeconds, id)
  // the position is saved from the library page: a player page would play, and save where it is when left
  const erins = await openPage(t, t.context.browser, { signIn: { url: server.url, ...erin } })
  await erins.goto(`${server.url}/`)
  await erins.locator(`.media-card[data-id="${id}"]`).waitFor()
  // the call the player makes (progress.js), from the page, with its cookie
  t.is(await erins.evaluate(async mediaId => (await fetch(`/api/v1/media/${mediaId}/progress`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ positionSeconds: 12 }) })).status, id), 204)
  await erins.reload()
  await erins.locator(`.continue-card[data-id="${id}"]`).waitFor()
  await erins.goto(`${server.url}/#/media/${id}`)
  await erins.locator('#resume').waitFor()
  t.is(await erins.locator('#resume').textContent(), 'Continue from 0:12')

  // frank: nothing saved, no "continue watching", no prompt
  const franks = await openPage(t, t.context.browser, { signIn: { url: server.url, ...frank } })
  await franks.goto(`${server.url}/`)
  await franks.locator(`.media-card[data-id="${id}"]`).waitFor()
  t.is(await progress(franks), null)
  t.is(await franks.locator('.continue-card').count(), 0)
  await franks.goto(`${server.url}/#/media/${id}`)
  // the player starts (no prompt to wait for) once it has asked for the position
  await franks.waitForFunction(() => (window as unknown as { cidcast?: { src: string | null } }).cidcast?.src != null)
  t.is(await franks.locator('#resume').count(), 0)
  t.is(await progress(erins), 12, 'erin\'s position is still hers')
})

test.serial('on a CDN node\'s own site, login and logout go through the node\'s API proxy, and a stale cookie gives way to a new login', async t => {
  const { server, dir } = t.context
  const node = await startNode({ dataDir: join(dir, 'node'), swarmKeyFile: join(dir, 'server', 'swarm.key'), server: server.url, name: 'attic', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500 })
  t.teardown(node.stop)
  const gina = await viewer(t, 'gina')
  const page = await openPage(t, t.context.browser)
  await page.goto(`${node.url}/`)
  await page.locator('#login-form').waitFor()
  await page.fill('#login-username', gina.username)
  await page.fill('#login-password', gina.password)
  await page.click('#login-submit')
  await page.locator(`.media-card[data-id="${t.context.id}"]`).waitFor()
  t.is(await page.locator('#user-name').textContent(), 'gina')
  t.truthy(await sessionCookie(page), 'the node\'s site has the session cookie')
  // passwords are changed on the main server's own pages: the node's proxy passes no account change
  t.is(await page.locator('#menu-password').getAttribute('href'), `${new URL(server.url).origin}/#/password`)

  // the session ends elsewhere (a new password): the node's site asks for a login again, and it works
  await server.accounts.setPassword('gina', 'gina-new-password')
  await page.goto(`${node.url}/#/nodes`)
  await page.locator('#login-form').waitFor()
  t.is(await sessionCookie(page), undefined, 'the node drops the cookie the main server no longer accepts')
  await page.fill('#login-username', 'gina')
  await page.fill('#login-password', 'gina-new-password')
  await page.click('#login-submit')
  await page.locator('table.nodes').waitFor()
  t.is(await page.locator('#user-name').textContent(), 'gina')

  await page.locator('#user-menu summary').click()
  await page.locator('#menu-logout').click()
  await page.locator('#login-form').waitFor()
  t.is(await pageStatus(page, '/api/v1/auth/me'), 401)
  t.is(await sessionCookie(page), undefined)
})

test.serial('too many failed logins say how long to wait', async t => {
  const { server } = t.context
  const harry = await viewer(t, 'harry')
  // the free failures, then each failure doubles the wait: a login from the page soon lands inside one
  for (let i = 0; i < 5; i++) await t.throwsAsync(login(server.url, harry.username, 'wrong password'))
  const page = await openPage(t, t.context.browser)
  await page.goto(`${server.url}/#/login`)
  const message = await waitFor(async () => {
    await page.fill('#login-username', harry.username)
    await page.fill('#login-password', 'wrong password')
    await page.click('#login-submit')
    await page.waitForFunction(() => document.getElementById('login-submit')?.hasAttribute('disabled') === false)
    const text = await page.locator('#login-error').textContent() ?? ''
    return /^Too many attempts/.test(text) && text
  }, 30_000, 'the page to say "too many attempts"')
  t.regex(message, /^Too many attempts, try again in \d+ s\.$/)
  t.is(await sessionCookie(page), undefined)
})
