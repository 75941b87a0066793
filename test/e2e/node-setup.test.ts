import { readdir } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import anyTest from 'ava'
import { silentLogger } from '../../core/logger.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { defaultNodeFolder, startSetup } from '../../node/setup.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { withRunningParts } from '../helpers/running.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { RunningContext } from '../helpers/running.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

/*
 * The node's setup page (issue 14, item 3) in Chromium: the owner pastes a join token, sees the free space of the
 * folder, picks a quota, and the node joins, closes the page and runs. The page answers only on loopback, only at
 * its own address, takes answers only from itself, and only until the node is set up.
 */

const test = anyTest as TestFn<RunningContext>
withRunningParts(test, 'cidcast-setup-')

async function invite (main: RunningServer, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${main.url}/api/v1/nodes/invitations`, { method: 'POST', headers: { ...bearer(await adminToken(main)), 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  const answer = await res.json() as { token: string }
  if (res.status !== 201) throw new Error(`invite answered ${res.status}: ${JSON.stringify(answer)}`)
  return answer.token
}

/** A raw request with the headers given (fetch would not let a test set Host). */
async function raw (url: string, method: string, headers: Record<string, string>, body?: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end(body)
  })
}

test('the default data folder is the platform\'s', t => {
  t.is(defaultNodeFolder('linux', { XDG_DATA_HOME: '/data/x' }, '/home/a'), '/data/x/cidcast-node')
  t.is(defaultNodeFolder('linux', {}, '/home/a'), '/home/a/.local/share/cidcast-node')
  t.is(defaultNodeFolder('linux', { XDG_DATA_HOME: 'relative' }, '/home/a'), '/home/a/.local/share/cidcast-node', 'a relative XDG_DATA_HOME is ignored, as the spec says')
  t.is(defaultNodeFolder('darwin', {}, '/Users/a'), '/Users/a/Library/Application Support/cidcast-node')
  t.regex(defaultNodeFolder('win32', { LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, 'C:\\Users\\a'), /AppData.Local.cidcast-node$/)
})

test.serial('the owner sets a node up in the browser: token, folder with its free space, quota; the node joins and runs, the page closes', async t => {
  const main = await startServer({ dataDir: join(t.context.dir, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context.running.push(main)
  const token = await invite(main, { name: 'Den' })
  const setup = await startSetup(silentLogger(), { listen: '127.0.0.1:0', defaultFolder: join(t.context.dir, 'default-node') })
  t.context.running.push({ stop: setup.close })
  t.regex(setup.url, /^http:\/\/127\.0\.0\.1:\d+\/setup$/)

  // what a page elsewhere could send it: another Host (DNS rebinding), a POST from another origin
  const host = new URL(setup.url).host
  t.is(await raw(setup.url, 'GET', { Host: 'evil.example' }), 403)
  t.is(await raw(setup.url, 'POST', { Host: host, Origin: 'http://evil.example', 'Content-Type': 'application/json' }, JSON.stringify({ token })), 403)
  t.deepEqual(await readdir(t.context.dir), ['server'], 'nothing written for them')

  const { browser, close } = await launchBrowser()
  try {
    const page = await browser.newPage()
    await page.goto(setup.url)
    await waitFor(async () => await page.locator('#folder').inputValue() !== '', 10_000, 'the default folder offered')
    t.is(await page.locator('#folder').inputValue(), join(t.context.dir, 'default-node'))
    await page.locator('#folder').fill(join(t.context.dir, 'my node'))
    await page.locator('#folder').dispatchEvent('change')
    await waitFor(async () => /GB free there/.test(await page.locator('#space').innerText()), 10_000, 'the free space shown')

    // a token cut short: one line, and the form stays
    await page.locator('#token').fill(token.slice(0, 50))
    await page.locator('#start').click()
    await waitFor(async () => (await page.locator('#error').innerText()) !== '', 10_000, 'the refusal')
    t.regex(await page.locator('#error').innerText(), /cut short or damaged/)

    await page.locator('#token').fill(token)
    await page.locator('#quota').fill('2')
    await page.locator('#start').click()
    const choice = await setup.done
    await waitFor(async () => /Joined/.test(await page.locator('#done').innerText()), 10_000, 'the page to say it joined')
    t.like(choice, { data: join(t.context.dir, 'my node'), server: main.url, name: 'Den', mode: 'shared', quotaBytes: 2e9 })
    await t.throwsAsync(fetch(setup.url), undefined, 'the setup page is gone once the node is set up')

    const node = await startNode({ dataDir: choice.data, server: choice.server, name: choice.name ?? undefined, mode: choice.mode, quotaBytes: choice.quotaBytes, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500, heartbeatSeconds: 1 })
    t.context.running.push(node)
    await waitFor(() => node.status().state === 'registered', 20_000, 'registration')
    const listed = (await main.registry.list()).find(n => n.peerId === choice.peerId)
    t.like(listed, { name: 'Den', mode: 'shared' })
    t.is(listed?.capacity.quotaBytes, 2e9)
  } finally {
    await close()
  }
})
