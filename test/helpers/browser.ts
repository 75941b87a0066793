import { chromium } from 'playwright-core'
import type { ExecutionContext } from 'ava'
import type { Browser, Page } from 'playwright-core'

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

/**
 * Starts a headless Chromium. playwright gives each launch a fresh `--user-data-dir` in the system temp folder
 * (and refuses one in `args`); `close()` ends the browser and removes that folder.
 */
export async function launchBrowser (): Promise<{ browser: Browser, close: () => Promise<void> }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 })
  return { browser, close: async () => { await browser.close() } }
}

/**
 * A page in a fresh browser context (its own storage, so its own viewer id), closed when the test ends; an
 * uncaught error on the page fails the test.
 */
export async function openPage (t: ExecutionContext, browser: Browser, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport })
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  page.on('pageerror', err => { t.fail(`page error: ${err.message}`) })
  return page
}
