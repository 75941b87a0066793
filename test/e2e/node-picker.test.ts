import { join } from 'node:path'
import anyTest from 'ava'
import { fixture, writeClip } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, signIn } from '../helpers/browser.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ReplicationView } from '../../core/replication/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { Credentials } from '../helpers/browser.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { Browser, Page } from 'playwright-core'

/*
 * The player's "Play from" picker in Chromium, on the main server's page and on nodes' own pages (issue 9, item 3):
 * one entry per node, the site the page is on marked as this site, and "holds it" only where the content index says
 * so, never because the page is served from there.
 */

interface Context {
  dir: string
  server: RunningServer
  browser: Browser
  /** Pages sign in as the first admin, on whichever site they open. */
  admin: Credentials
  /**
   * A media whose only rendition, 360p, is finished and held by the main server. A 640x360 source has a ladder of
   * one rung: with a taller one, a player on the main server's page could have another rung made while the test
   * runs, and a node that pinned 360p would then rightly hold only part of it.
   */
  id: string
  /** A media nothing has been made of yet. */
  fresh: string
  nodes: Map<string, RunningNode>
  stop: () => Promise<void>
}

interface Choice { node: string, thisSite: boolean, title: string, dns: string, region: string, holds: string, checked: boolean }

type PlayerWindow = Window & { cidcast?: { video: HTMLVideoElement, src: string | null } }

const test = anyTest as TestFn<Context>

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop().catch(() => {}) }
  const dir = await tempDir('cidcast-e2e-picker-')
  parts.push(dir.remove)
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  parts.push(server.stop)
  const media = await server.addMedia(await writeClip(join(dir.path, 'clip 640x360.mp4'), 640, 360, 6))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  await waitFor(async () => (await server.library.get(media.id)).renditions.some(r => r.profile === '360p' && r.root != null), 60_000, 'the 360p rendition')
  const fresh = await server.addMedia(await fixture('audio-only-8s'))
  const { browser, close } = await launchBrowser()
  parts.push(close)
  const nodes = new Map<string, RunningNode>()
  parts.push(async () => { for (const node of [...nodes.values()].reverse()) await node.stop() })
  Object.assign(t.context, { dir: dir.path, server, browser, admin: await adminCredentials(server), id: media.id, fresh: fresh.id, nodes })
})

test.after.always(async t => { await t.context.stop?.() })

async function node (t: ExecutionContext<Context>, name: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  const { dir, server } = t.context
  const running = await startNode({ dataDir: join(dir, name), swarmKeyFile: join(dir, 'server', 'swarm.key'), server: server.url, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500, ...options })
  t.context.nodes.set(name, running)
  await waitFor(() => running.status().state === 'registered', 20_000, `${name} to register`)
  return running
}

/** A call to the main server's API as its first admin. */
async function api<T> (server: RunningServer, method: string, path: string, body?: unknown): Promise<T> {
  const headers = { ...bearer(await adminToken(server)), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json() as T
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Orders the media pinned on `name` and waits until the content index has it pinned there. */
async function pinOn (t: ExecutionContext<Context>, name: string): Promise<void> {
  const { server, id } = t.context
  await api(server, 'POST', '/api/v1/replications', { media: id, node: name })
  await waitFor(async () => {
    const rows = (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?media=${id}&node=${name}`)).items
    return rows.length > 0 && rows.every(r => r.state === 'pinned')
  }, 30_000, `${name} to hold the media`)
}

/**
 * A fresh page (its own storage: no remembered choice), signed in as the admin on the site it opens (through a node's
 * API proxy on a node's site), that fails the test on uncaught page errors.
 */
async function openPage (t: ExecutionContext<Context>, url: string): Promise<Page> {
  const context = await t.context.browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => { await context.close() })
  await signIn(context, new URL(url).origin, t.context.admin)
  const page = await context.newPage()
  page.on('pageerror', err => { t.fail(`page error: ${err.message}`) })
  await page.goto(url)
  return page
}

async function choices (page: Page): Promise<Choice[]> {
  return await page.$$eval('.node-choice', buttons => buttons.map(b => ({
    node: b.getAttribute('data-node') ?? '',
    thisSite: b.getAttribute('data-this-site') === 'true',
    title: b.querySelector('strong')?.textContent ?? '',
    dns: b.querySelector('.dns')?.textContent ?? '',
    region: b.querySelector('.region')?.textContent ?? '',
    holds: b.querySelector('.holds')?.textContent ?? '',
    checked: b.getAttribute('aria-checked') === 'true'
  })))
}

/** Waits until the picker shows `count` entries and `ready` holds for them (the picker refreshes every 10 s). */
async function picker (page: Page, count: number, ready: (list: Choice[]) => boolean, what: string): Promise<Choice[]> {
  let last: Choice[] = []
  try {
    return await waitFor(async () => {
      last = await choices(page)
      return last.length === count && ready(last) && last
    }, 25_000, what)
  } catch (err) {
    throw new Error(`${(err as Error).message}; the picker shows ${JSON.stringify(last)}`)
  }
}

/** The playlist the player plays, without its stream token (every source is a signed play URL: an error without one). */
async function playerSource (page: Page): Promise<string> {
  const src = await page.waitForFunction(() => (window as unknown as PlayerWindow).cidcast?.src ?? null).then(async h => await h.jsonValue() as string)
  const signed = /^(.*)\?token=[\w-]+$/.exec(src)
  if (signed == null) throw new Error(`the player plays ${src}, not a signed play URL`)
  return signed[1]
}

/** One entry per node: no title names a node twice, and exactly one entry is this site. */
function onePerNode (t: ExecutionContext<Context>, list: Choice[], names: string[]): void {
  t.is(list.filter(c => c.thisSite).length, 1, 'one entry is this site')
  for (const name of names) t.is(list.filter(c => c.title === name || c.title === `${name} (this site)`).length, 1, `${name} appears once`)
}

test.serial('on the main server\'s page this site is the main server, holding what it has finished, beside one entry per node', async t => {
  const { server, id, fresh } = t.context
  // no nodes yet: only the main server
  const page = await openPage(t, `${server.url}/#/media/${id}`)
  let list = await picker(page, 1, l => l[0].holds !== '', 'the main server\'s entry')
  t.like(list[0], { node: '', thisSite: true, title: 'Main server (this site)', holds: 'holds it', checked: true })
  t.is(await playerSource(page), `/media/${id}/master.m3u8`)

  // nothing finished of a media: the main server makes it when asked, and says so
  await page.goto(`${server.url}/#/media/${fresh}`)
  list = await picker(page, 1, l => l[0].holds === 'transcodes it on demand', 'the fresh media\'s entry')
  t.is(list[0].title, 'Main server (this site)')

  // one node, then two: each once, holding what the content index says
  await node(t, 'alpha', { region: 'eu-west' })
  await pinOn(t, 'alpha')
  await page.goto(`${server.url}/#/media/${id}`)
  list = await picker(page, 2, l => l[1].holds === 'holds it', 'alpha\'s entry')
  onePerNode(t, list, ['alpha'])
  t.like(list[1], { node: 'alpha', thisSite: false, title: 'alpha', dns: 'alpha.cidcast.internal', region: 'region eu-west' })
  await node(t, 'beta')
  await page.reload()
  list = await picker(page, 3, l => l[0].holds === 'holds it' && l[2].holds === 'does not hold it', 'beta\'s entry')
  onePerNode(t, list, ['alpha', 'beta'])
  t.deepEqual(list.map(c => [c.title, c.holds]), [['Main server (this site)', 'holds it'], ['alpha', 'holds it'], ['beta', 'does not hold it']])
  t.deepEqual(list.map(c => c.region), ['', 'region eu-west', ''], 'a node without a region shows none')
})

test.serial('on a node\'s own page the node is one entry, marked as this site, holding the media as the content index says', async t => {
  const { nodes, id } = t.context
  const alpha = nodes.get('alpha')
  if (alpha == null) throw new Error('alpha is started by the test before')
  const page = await openPage(t, `${alpha.url}/#/media/${id}`)
  const list = await picker(page, 2, l => l[0].thisSite && l[0].holds === 'holds it' && l[1].holds !== '', 'alpha\'s own page')
  onePerNode(t, list, ['alpha', 'beta'])
  t.like(list[0], { node: '', title: 'alpha (this site)', dns: 'alpha.cidcast.internal', holds: 'holds it', checked: true })
  t.like(list[1], { node: 'beta', thisSite: false, holds: 'does not hold it' })
  t.is(await playerSource(page), `/media/${id}/master.m3u8`, 'this site plays')
  t.true(await page.locator('#node-missing').isHidden())

  // a choice of this node by its name (as the old picker listed it) is this site, not a second entry
  await page.evaluate(() => { localStorage.setItem('cidcast.node', 'alpha') })
  await page.reload()
  const again = await picker(page, 2, l => l[0].holds === 'holds it', 'alpha\'s own page after a reload')
  t.like(again[0], { thisSite: true, checked: true })
  t.false(again[1].checked)
})

test.serial('a node that lacks the media says so on its own page, plays it through its fallback, and holds it after "Replicate here"', async t => {
  const { nodes, id } = t.context
  const beta = nodes.get('beta')
  if (beta == null) throw new Error('beta is started by the first test')
  const page = await openPage(t, `${beta.url}/#/media/${id}`)
  const list = await picker(page, 2, l => l[0].holds !== '' && l[1].holds !== '', 'beta\'s own page')
  onePerNode(t, list, ['alpha', 'beta'])
  t.like(list[0], { node: '', thisSite: true, title: 'beta (this site)', holds: 'does not hold it', checked: true })
  t.like(list[1], { node: 'alpha', holds: 'holds it' })
  t.is(await playerSource(page), `/media/${id}/master.m3u8`, 'this site plays it anyway')
  await page.waitForFunction(() => ((window as unknown as PlayerWindow).cidcast?.video.currentTime ?? 0) > 0.5, undefined, { timeout: 30_000 })
  await page.locator('#node-missing').waitFor({ state: 'visible' })
  t.regex(await page.locator('#node-missing').innerText(), /beta \(this site\) does not hold/)
  t.true(await page.locator('#stream-fallback').isHidden(), 'this site already streams')

  await page.locator('#replicate-here').click()
  await picker(page, 2, l => l[0].holds === 'holds it', 'beta to hold it')
  await page.locator('#node-missing').waitFor({ state: 'hidden' })
  t.is(await playerSource(page), `/media/${id}/master.m3u8`, 'still this site')
  const rows = (await api<{ items: ReplicationView[] }>(t.context.server, 'GET', `/api/v1/replications?media=${id}&node=beta`)).items
  t.true(rows.length > 0 && rows.every(r => r.state === 'pinned'))
})

test.serial('a local node, listed to nobody, shows itself once as this site and holds the media only once it is pinned there', async t => {
  const { server, id } = t.context
  const gamma = await node(t, 'gamma', { mode: 'local' })
  const listed = await api<{ items: Array<{ name: string }> }>(server, 'GET', '/api/v1/nodes')
  t.false(listed.items.some(n => n.name === 'gamma'), 'the main server does not list a local node')
  const page = await openPage(t, `${gamma.url}/#/media/${id}`)
  let list = await picker(page, 3, l => l.every(c => c.holds !== ''), 'gamma\'s own page')
  onePerNode(t, list, ['alpha', 'beta', 'gamma'])
  t.like(list[0], { node: '', thisSite: true, title: 'gamma (this site)', holds: 'does not hold it' })

  await pinOn(t, 'gamma')
  await page.reload()
  list = await picker(page, 3, l => l[0].holds === 'holds it', 'gamma to hold it')
  t.like(list[0], { thisSite: true, title: 'gamma (this site)' })
  t.deepEqual(list.slice(1).map(c => [c.title, c.holds]), [['alpha', 'holds it'], ['beta', 'holds it']])
})

test.serial('a local node with an owner is offered in its owner\'s picker on the main server\'s page', async t => {
  const { server, id } = t.context
  await node(t, 'delta', { mode: 'local', owner: 'admin' })
  const page = await openPage(t, `${server.url}/#/media/${id}`)
  // gamma, a local node without an owner, is still offered to nobody
  const list = await picker(page, 4, l => l.some(c => c.node === 'delta'), 'the owner\'s local node in the picker')
  onePerNode(t, list, ['alpha', 'beta', 'delta'])
  t.like(list.find(c => c.node === 'delta'), { title: 'delta', thisSite: false })
})

test.serial('a copy automatic distribution placed is marked apart from a pin someone asked for', async t => {
  const { server, id } = t.context
  await node(t, 'epsilon')
  const root = (await server.library.get(id)).renditions.find(r => r.profile === '360p')?.root as string
  // what the distributor orders: an automatic pin of the rendition on a node
  await server.replication.pin({ cid: root, node: 'epsilon', auto: true })
  await waitFor(async () => (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?media=${id}&node=epsilon`)).items.some(r => r.state === 'pinned' && r.auto), 30_000, 'epsilon to hold it automatically')
  const page = await openPage(t, `${server.url}/#/media/${id}`)
  const list = await picker(page, 5, l => l.find(c => c.node === 'epsilon')?.holds.startsWith('holds it') === true, 'epsilon holding it')
  t.is(list.find(c => c.node === 'epsilon')?.holds, 'holds it (cached automatically)')
  t.is(list.find(c => c.node === 'alpha')?.holds, 'holds it', 'a pin someone asked for is not marked')
})
