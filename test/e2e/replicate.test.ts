import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, signIn } from '../helpers/browser.ts'
import { rootToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ReplicationView } from '../../core/replication/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ChildProcess } from 'node:child_process'
import type { Page } from 'playwright-core'

/*
 * Replication as a viewer and an operator meet it: the web UI's node picker in Chromium (play from a node, the
 * choice remembered, "Stream from fallback" and "Replicate here" with its progress bar), and a node process killed
 * with SIGKILL in the middle of a pin that finishes the pin after a restart.
 */

const REPLICA_NODE = fileURLToPath(new URL('./replica-node.ts', import.meta.url))

type PlayerWindow = Window & { cidcast?: { video: HTMLVideoElement, src: string | null } }

/** A call to the main server's API as its first admin. */
async function api<T> (server: RunningServer, method: string, path: string, body?: unknown): Promise<T> {
  const headers = { ...bearer(await adminToken(server)), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json() as T
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

async function rows (server: RunningServer, query: string): Promise<ReplicationView[]> {
  return (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?${query}`)).items
}

function nodeOptions (dir: string, name: string, server: RunningServer): StartNodeOptions {
  return { dataDir: join(dir, name), swarmKeyFile: join(dir, 'server', 'swarm.key'), server: server.url, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500 }
}

/** The playlist the player plays, without its stream token (every source is a signed play URL: an error without one). */
async function playerSource (page: Page): Promise<string | null> {
  const src = await page.evaluate(() => (window as unknown as PlayerWindow).cidcast?.src ?? null)
  if (src == null) return null
  const signed = /^(.*)\?token=[\w-]+$/.exec(src)
  if (signed == null) throw new Error(`the player plays ${src}, not a signed play URL`)
  return signed[1]
}

/** Waits until the video has played past `seconds` since `from` (so it plays, not just loads). */
async function playsOn (page: Page, from: number, seconds = 1): Promise<void> {
  await page.waitForFunction(([start, more]) => ((window as unknown as PlayerWindow).cidcast?.video.currentTime ?? 0) > start + more, [from, seconds], { timeout: 30_000 })
}

async function currentTime (page: Page): Promise<number> {
  return await page.evaluate(() => (window as unknown as PlayerWindow).cidcast?.video.currentTime ?? 0)
}

test('the player streams from the node the viewer picks; a node without the media offers fallback, or replication with a live progress bar and then plays from the node', async t => {
  const dir = await tempDir('cidcast-e2e-replicate-')
  const parts: Array<() => Promise<void>> = [dir.remove]
  try {
    const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 2, logLevel: 'silent', accounts: TEST_ACCOUNTS })
    parts.push(server.stop)
    const media = await server.addMedia(await fixture('odd-854x480-6s'))
    for (const r of (await server.library.get(media.id)).renditions) await server.transcoder.complete(await server.library.job(media.id, r.profile))
    await waitFor(async () => (await server.library.get(media.id)).renditions.every(r => r.root != null), 60_000, 'every rendition to complete')
    const nodes: RunningNode[] = []
    for (const name of ['alpha', 'beta']) {
      const node = await startNode(nodeOptions(dir.path, name, server))
      parts.push(node.stop)
      nodes.push(node)
    }
    const [alpha, beta] = nodes
    for (const node of nodes) await waitFor(() => node.status().state === 'registered', 20_000, `${node.name} to register`)
    await api(server, 'POST', '/api/v1/replications', { media: media.id, node: 'alpha' })
    await waitFor(async () => { const r = await rows(server, `media=${media.id}&node=alpha`); return r.length > 0 && r.every(x => x.state === 'pinned') }, 30_000, 'alpha to hold the media')

    const { browser, close } = await launchBrowser()
    parts.push(close)
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await signIn(context, server.url, await adminCredentials(server))
    const page = await context.newPage()
    page.on('pageerror', err => { t.fail(`page error: ${err.message}`) })
    await page.goto(`${server.url}/#/media/${media.id}`)

    // the picker: this site, then each node with its DNS name, state, free space and whether it holds the media
    const alphaChoice = page.locator('.node-choice[data-node="alpha"]')
    const betaChoice = page.locator('.node-choice[data-node="beta"]')
    await alphaChoice.waitFor()
    await page.waitForFunction(() => document.querySelector('.node-choice[data-node="alpha"] .holds')?.textContent === 'holds it')
    t.regex(await alphaChoice.innerText(), /alpha\s+alpha\.cidcast\.internal\s+online\s+[\d.]+ [kMGT]?B free\s+holds it/)
    t.regex(await betaChoice.innerText(), /beta\.cidcast\.internal[\s\S]*does not hold it/)
    await page.waitForFunction(() => (window as unknown as PlayerWindow).cidcast?.src != null)
    t.is(await playerSource(page), `/media/${media.id}/master.m3u8`, 'with no choice yet, this site')

    // alpha holds it: the video streams from alpha
    await alphaChoice.click()
    await page.waitForFunction(url => (window as unknown as PlayerWindow).cidcast?.src?.startsWith(url) === true, alpha.url)
    await playsOn(page, await currentTime(page))
    t.true(alpha.metrics.totals().bytesServed > 0, 'alpha served the segments')
    t.regex(await page.locator('#playing-from').innerText(), /Playing from alpha \(alpha\.cidcast\.internal\)/)

    // the choice is the viewer's: remembered across a reload
    await page.reload()
    await page.waitForFunction(url => (window as unknown as PlayerWindow).cidcast?.src?.startsWith(url) === true, alpha.url)
    t.is(await alphaChoice.getAttribute('aria-checked'), 'true')

    // beta lacks it: nothing plays from beta until the viewer says how
    await betaChoice.click()
    await page.locator('#node-missing').waitFor({ state: 'visible' })
    t.regex(await page.locator('#node-missing').innerText(), /beta does not hold/)
    // fallback: the nearest online node that holds it (alpha), not the main server
    await page.locator('#stream-fallback').click()
    await page.waitForFunction(() => /Streaming from fallback: alpha/.test(document.getElementById('playing-from')?.textContent ?? ''))
    t.true((await playerSource(page))?.startsWith(alpha.url))
    await playsOn(page, await currentTime(page), 0.5)

    // replicate here: a progress bar while beta pins, then the video moves to beta
    const before = beta.metrics.totals().bytesServed
    await page.locator('#replicate-here').click()
    t.true(await page.locator('#replicate-progress').isVisible(), 'the progress bar shows at once')
    await page.waitForFunction(url => (window as unknown as PlayerWindow).cidcast?.src?.startsWith(url) === true, beta.url, { timeout: 30_000 })
    t.regex(await page.locator('#playing-from').innerText(), /Playing from beta/)
    await playsOn(page, await currentTime(page), 0.5)
    t.true(beta.metrics.totals().bytesServed > before, 'beta serves the video now')
    const betaRows = await rows(server, `media=${media.id}&node=beta`)
    t.true(betaRows.length > 0 && betaRows.every(r => r.state === 'pinned'), JSON.stringify(betaRows.map(r => [r.state, r.reason])))
    await page.waitForFunction(() => document.querySelector('.node-choice[data-node="beta"] .holds')?.textContent === 'holds it')
  } finally {
    for (const stop of parts.reverse()) await stop().catch(() => {})
  }
})

interface NodeProcess { child: ChildProcess, url: string, exited: Promise<void> }

async function startNodeProcess (options: StartNodeOptions): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import=tsx', REPLICA_NODE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', line => { if (line.startsWith('READY ')) resolve((JSON.parse(line.slice(6)) as { url: string }).url) })
    void exited.then(() => { reject(new Error('the node process exited before it was ready')) })
  })
  return { child, url, exited }
}

test('a node killed with SIGKILL in the middle of a pin resumes it after a restart and finishes', async t => {
  const dir = await tempDir('cidcast-e2e-kill-')
  const parts: Array<() => Promise<void>> = [dir.remove]
  try {
    const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
    parts.push(server.stop)
    const bytes = randomBytes(48 * 1024 * 1024)
    const cid = await unixfs(server.peer).addBytes(bytes, IMPORT_OPTIONS)
    for await (const block of server.peer.pins.add(cid)) void block

    // one block at a time over bitswap (the gateway or the block stream would carry it all within one heartbeat), so the pin takes a
    // few seconds and the kill lands in its middle
    const options: StartNodeOptions = { ...nodeOptions(dir.path, 'gamma', server), pinFrom: 'p2p', pinner: { fetchConcurrency: 1, blockStream: false } }
    let gamma = await startNodeProcess(options)
    parts.push(async () => { gamma.child.kill('SIGKILL'); await gamma.exited })
    await waitFor(async () => (await api<{ items: Array<{ name: string, state: string }> }>(server, 'GET', '/api/v1/nodes')).items.some(n => n.name === 'gamma' && n.state === 'online'), 20_000, 'gamma to register')

    await api(server, 'POST', '/api/v1/replications', { cid: cid.toString(), node: 'gamma' })
    const midway = await waitFor(async () => {
      const [row] = await rows(server, `cid=${cid.toString()}&node=gamma`)
      return row?.state === 'pinning' && row.progress.bytesDone > 0 && row
    }, 20_000, 'the pin to be under way')
    t.true(midway.progress.bytesDone < (midway.progress.bytesTotal ?? 0), 'not finished yet')
    gamma.child.kill('SIGKILL')
    await gamma.exited

    // the row stays, shown unreachable, with the reason
    const stalled = await waitFor(async () => { const [row] = await rows(server, `cid=${cid.toString()}&node=gamma`); return row?.reachable === false && row }, 20_000, 'gamma to be seen offline')
    t.not(stalled.state, 'pinned')
    t.truthy(stalled.reason)

    gamma = await startNodeProcess(options)
    const done = await waitFor(async () => { const [row] = await rows(server, `cid=${cid.toString()}&node=gamma`); return row?.state === 'pinned' && row }, 60_000, 'the resumed pin to finish')
    t.is(done.progress.bytesDone, done.progress.bytesTotal ?? -1)
    const res = await fetch(withToken(`${gamma.url}/ipfs/${cid.toString()}`, rootToken(server, [cid.toString()])), { headers: { 'Cache-Control': 'only-if-cached' } })
    t.is(res.status, 200)
    t.true(Buffer.from(await res.arrayBuffer()).equals(bytes), 'gamma holds every byte')
  } finally {
    for (const stop of parts.reverse()) await stop().catch(() => {})
  }
})
