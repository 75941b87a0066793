import { join } from 'node:path'
import anyTest from 'ava'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { joinNetwork } from '../../node/join.ts'
import { silentLogger } from '../../core/logger.ts'
import { CIDCAST_VERSION } from '../../core/version.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, signIn } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'
import type { Browser, Page } from 'playwright-core'

const test = anyTest as TestFn<{ server: RunningServer, node: RunningNode, admin: Credentials, token: string, dir: string, remove: () => Promise<void> }>

test.before(async t => {
  const dir = await tempDir()
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  const node = await startNode({
    dataDir: join(dir.path, 'node'),
    swarmKeyFile: join(dir.path, 'server', 'swarm.key'),
    server: server.url,
    name: 'Attic <script>box</script>',
    region: 'eu-west',
    tags: ['gpu', 'ssd'],
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent'
  })
  t.context = { server, node, admin: await adminCredentials(server), token: await adminToken(server), dir: dir.path, remove: dir.remove }
})

test.after.always(async t => {
  await t.context.node?.stop()
  await t.context.server?.stop()
  await t.context.remove?.()
})

interface NodeItem { name: string, peerId: string, state: string, revoked: boolean }

async function nodes (t: { context: { server: RunningServer, token: string } }): Promise<NodeItem[]> {
  return (await (await fetch(`${t.context.server.url}/api/v1/nodes`, { headers: bearer(t.context.token) })).json() as { items: NodeItem[] }).items
}

/** A page of a fresh context signed in as `who` at the main server. */
async function pageAs (browser: Browser, url: string, who: Credentials): Promise<Page> {
  const context = await browser.newContext()
  await signIn(context, url, who)
  return await context.newPage()
}

test.serial('the nodes page lists every node with its state, region, tags and space, names shown as text', async t => {
  const { server } = t.context
  await waitFor(async () => (await nodes(t)).some(n => n.state === 'online'), 30_000, 'the node to register')
  const { browser, close } = await launchBrowser()
  try {
    const page = await pageAs(browser, server.url, t.context.admin)
    await page.goto(`${server.url}/#/nodes`)
    const row = page.locator('tr.node-row')
    await row.first().waitFor({ timeout: 15_000 })
    t.is(await row.count(), 1)
    t.is(await row.getAttribute('data-state'), 'online')
    const text = await row.innerText()
    t.regex(text, /Attic <script>box<\/script>/)
    t.regex(text, /attic-script-box-script\./)
    t.regex(text, /free of/)
    t.is(await row.locator('.node-region').innerText(), 'eu-west\ngpu, ssd')
    t.is(await row.locator('.node-version').innerText(), `cidcast ${CIDCAST_VERSION}`)
    t.is(await page.locator('tr.node-row script').count(), 0)
  } finally {
    await close()
  }
})

test.serial('an admin invites a node from the nodes page: its token shown once joins a node; an open invitation is revoked there', async t => {
  const { server } = t.context
  const { browser, close } = await launchBrowser()
  try {
    const page = await pageAs(browser, server.url, t.context.admin)
    await page.goto(`${server.url}/#/nodes`)
    const form = page.locator('form.invite-node')
    await form.locator('input[name=name]').fill('Garage box')
    await form.locator('select[name=expires]').selectOption('3600')
    await form.locator('button[type=submit]').click()
    const token = await page.locator('#join-token input.secret-value').inputValue()
    t.regex(token, /^ccj_[A-Za-z0-9_-]+$/)
    const row = page.locator('tr.invitation-row[data-state=open]')
    await row.waitFor()
    t.regex(await row.innerText(), /Garage box/)

    // the token joins a node; the list says spent (and never shows the token)
    const joined = await joinNetwork(token, join(t.context.dir, 'garage'), silentLogger())
    t.is(joined.name, 'Garage box')
    await page.reload()
    await page.locator('tr.invitation-row[data-state=spent]').waitFor()
    t.false((await page.locator('table.invitations-list').innerText()).includes(token.slice(4, 30)))

    // another, revoked before use
    await form.locator('button[type=submit]').click()
    await page.locator('tr.invitation-row[data-state=open]').waitFor()
    await page.locator('tr.invitation-row[data-state=open] button.uninvite').click()
    await page.locator('tr.invitation-row[data-state=revoked]').waitFor()
    t.is(await page.locator('tr.invitation-row[data-state=open]').count(), 0)
  } finally {
    await close()
  }
})

test.serial('an admin revokes a node from the nodes page; a viewer sees no Revoke button and no invitations', async t => {
  const { server } = t.context
  await server.accounts.addUser({ name: 'viewer', role: 'viewer', password: 'viewer-password' })
  const { browser, close } = await launchBrowser()
  try {
    const viewer = await pageAs(browser, server.url, { username: 'viewer', password: 'viewer-password' })
    await viewer.goto(`${server.url}/#/nodes`)
    await viewer.locator('tr.node-row').waitFor()
    t.is(await viewer.locator('tr.node-row .revoke').count(), 0)
    t.is(await viewer.locator('form.invite-node').count(), 0, 'no invitations for a viewer')

    const page = await pageAs(browser, server.url, t.context.admin)
    page.on('dialog', dialog => { void dialog.accept() })
    await page.goto(`${server.url}/#/nodes`)
    const row = page.locator('tr.node-row')
    await row.locator('.revoke').click()
    // a revoked node is no longer listed
    await row.waitFor({ state: 'detached' })
    t.is(await page.locator('#error').isVisible(), false)
    t.deepEqual((await nodes(t)).map(n => n.name), [])
    const all = await (await fetch(`${server.url}/api/v1/nodes?all=1`, { headers: bearer(t.context.token) })).json() as { items: NodeItem[] }
    t.true(all.items.find(n => n.peerId === t.context.node.peer.libp2p.peerId.toString())?.revoked)
  } finally {
    await close()
  }
})
