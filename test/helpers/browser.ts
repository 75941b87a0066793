import { chromium } from 'playwright-core'
import { SESSION_COOKIE } from '../../gateway/access/authenticate.ts'
import { login } from './auth.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext } from 'ava'
import type { Browser, BrowserContext, Page } from 'playwright-core'

/** Debian's Chromium: it decodes H.264/AAC through MSE, which the bundled headless shells may not. */
export const CHROMIUM_PATH = process.env.CIDCAST_CHROMIUM ?? '/usr/bin/chromium'

/** The flags every browser test runs with (ARCHITECTURE.md, "Tests"). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'
]

/** The first admin's password where the test sets one (a server that did not just make its first admin). */
const KNOWN_ADMIN_PASSWORD = 'a-known-password'

/** A user name and password, as `POST /api/v1/auth/login` takes them. */
export interface Credentials {
  username: string
  password: string
}

/** Where to sign a new page's browser context in, and as whom. */
export interface SignIn extends Credentials {
  /** The site (main server or CDN node) whose cookie the context gets. */
  url: string
}

export interface OpenPageOptions {
  /** @default { width: 1280, height: 900 } */
  viewport?: { width: number, height: number }
  /** Logs the context in first (a login call: the server's session cookie in the context). */
  signIn?: SignIn
}

/**
 * Starts a headless Chromium. playwright gives each launch a fresh `--user-data-dir` in the system temp folder
 * (and refuses one in `args`); `close()` ends the browser and removes that folder.
 */
export async function launchBrowser (): Promise<{ browser: Browser, close: () => Promise<void> }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 })
  return { browser, close: async () => { await browser.close() } }
}

/**
 * A page in a fresh browser context (its own storage and cookies), signed in when asked, closed when the test
 * ends; an uncaught error on the page fails the test.
 */
export async function openPage (t: ExecutionContext, browser: Browser, options: OpenPageOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } })
  t.teardown(async () => { await context.close() })
  if (options.signIn != null) await signIn(context, options.signIn.url, options.signIn)
  const page = await context.newPage()
  page.on('pageerror', err => { t.fail(`page error: ${err.message}`) })
  return page
}

/**
 * The first admin's credentials of a server this process started: the password it printed when it made them, else
 * a known one set now (which ends the admin's sessions: ask once per server, before pages log in).
 */
export async function adminCredentials (server: Pick<RunningServer, 'firstAdmin' | 'accounts'>): Promise<Credentials> {
  if (server.firstAdmin != null) return { username: server.firstAdmin.user.name, password: server.firstAdmin.password }
  await server.accounts.setPassword('admin', KNOWN_ADMIN_PASSWORD)
  return { username: 'admin', password: KNOWN_ADMIN_PASSWORD }
}

/** Signs a browser context in at `url`: a login call, and its session token as the site's session cookie (HttpOnly, as the server sets it). */
export async function signIn (context: BrowserContext, url: string, credentials: Credentials): Promise<void> {
  const token = await login(url, credentials.username, credentials.password)
  await context.addCookies([{ name: SESSION_COOKIE, value: token, url, httpOnly: true, sameSite: 'Lax' }])
}

/** Logs a page in through the login page at `url`, as a person would; resolves once the page has left it. */
export async function logInThroughPage (page: Page, url: string, credentials: Credentials): Promise<void> {
  await page.goto(`${url}/#/login`)
  await page.fill('#login-username', credentials.username)
  await page.fill('#login-password', credentials.password)
  await page.click('#login-submit')
  await page.waitForFunction(() => !window.location.hash.startsWith('#/login'))
}
