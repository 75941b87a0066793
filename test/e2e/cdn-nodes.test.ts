import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { bearer, login } from '../helpers/auth.ts'
import { streamTokenFromKeyFile, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import { freePort } from '../helpers/ports.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { ChildProcess } from 'node:child_process'

/**
 * A main server as a real process (`cidcast server`) and two CDN nodes: registration, a local hit that never
 * reaches the main server, a miss that falls back and says so, the main server going down (a node keeps serving
 * what it holds, even across its own restart) and coming back (the nodes register again by themselves).
 */

const CLI = fileURLToPath(new URL('../../bin/cidcast.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface MainProcess {
  child: ChildProcess
  exited: Promise<number | null>
  stdout: () => string
  stderr: () => string
}

function startMain (data: string, port: number): MainProcess {
  const child = spawn(process.execPath, [CLI, 'server', '--data', data, '--listen', `127.0.0.1:${port}`, '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--dns-listen', '127.0.0.1:0'], {
    cwd: ROOT,
    env: { ...process.env, CIDCAST_LOG_LEVEL: 'warn', CIDCAST_HEARTBEAT_SECONDS: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  return { child, exited: new Promise(resolve => child.once('exit', code => { resolve(code) })), stdout: () => out, stderr: () => err }
}

async function answers (url: string): Promise<boolean> {
  return await fetch(`${url}/healthz`).then(res => res.ok, () => false)
}

/** Set once the media is known: nodes serve `/media` only with a stream token (the main server's key file signs it). */
let token = ''

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, source: string | null, body: Buffer, error?: string }> {
  const res = await fetch(withToken(url, token), { headers })
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, source: res.headers.get('x-cidcast-source'), body, error: res.status >= 400 ? JSON.parse(body.toString()).error : undefined }
}

/** Requests of content this node sent to the main server, from its own metrics. */
async function contentRequests (node: RunningNode): Promise<number> {
  const metric = await node.metrics.originRequests.get()
  return metric.values.filter(v => ['media', 'playlist', 'segment', 'car'].includes(String(v.labels.kind))).reduce((sum, v) => sum + v.value, 0)
}

test('two nodes register, serve locally or fall back, keep serving while the main server is down, and come back with it', async t => {
  const dir = await tempDir('cidcast-e2e-nodes-')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const serverData = join(dir.path, 'server')
  let main = startMain(serverData, port)
  const nodes: RunningNode[] = []
  const options = (name: string): StartNodeOptions => ({
    dataDir: join(dir.path, name), swarmKeyFile: join(serverData, 'swarm.key'), server: url, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 200, maxBackoffMs: 1000, playlistTtlMs: 0
  })
  try {
    await waitFor(async () => await answers(url), 60_000, 'the main server')
    // the first start makes the first admin and prints its password once; its session outlives the restart below
    const password = await waitFor(() => /^admin password: (\S+)$/m.exec(main.stdout())?.[1], 10_000, 'the admin password')
    const headers = bearer(await login(url, 'admin', password))
    const added = await (await fetch(`${url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ path: await fixture('odd-854x480-6s') }) })).json() as { id: string }
    const id = added.id
    token = await streamTokenFromKeyFile(serverData, id)
    // playing the 360p rendition once through the main server makes it complete, with a root directory
    const playlist = await (await fetch(`${url}/media/${id}/360p/index.m3u8`, { headers })).text()
    const segments = playlist.split('\n').filter(l => l.endsWith('.m4s'))
    t.true(segments.length > 0)
    for (const name of segments) t.is((await fetch(`${url}/media/${id}/360p/${name}`, { headers })).status, 200)
    const root = await waitFor(async () => {
      const media = await (await fetch(`${url}/api/v1/media/${id}`, { headers })).json() as { renditions: Array<{ profile: string, root: string | null }> }
      return media.renditions.find(r => r.profile === '360p')?.root ?? undefined
    }, 60_000, 'the 360p rendition to complete')

    nodes.push(await startNode(options('alpha')), await startNode(options('beta')))
    const [alpha, beta] = nodes
    for (const node of nodes) await waitFor(() => node.status().state === 'registered', 30_000, `${node.name} to register`)
    t.is(alpha.dnsName, 'alpha.cidcast.internal')
    const listed = await (await fetch(`${url}/api/v1/nodes`, { headers })).json() as { items: Array<{ name: string, state: string, url: string }> }
    t.deepEqual(listed.items.map(n => [n.name, n.state]).sort(), [['alpha', 'online'], ['beta', 'online']])

    // alpha holds the rendition: fetched over bitswap from the main server
    await alpha.pin(CID.parse(root))
    t.is((await get(`${alpha.url}/media/${id}/master.m3u8`)).source, 'origin')
    const before = await contentRequests(alpha)
    const files = ['index.m3u8', 'init.mp4', ...segments]
    const bytes = new Map<string, Buffer>()
    for (const file of files) {
      const res = await get(`${alpha.url}/media/${id}/360p/${file}`)
      t.is(res.status, 200, file)
      t.is(res.source, 'local', file)
      t.deepEqual(res.body, (await get(`${url}/media/${id}/360p/${file}`)).body, file)
      bytes.set(file, res.body)
    }
    t.is(await contentRequests(alpha), before, 'local hits never reach the main server')

    // beta does not: it falls back to the main server and says so, then holds what it fetched
    const miss = await get(`${beta.url}/media/${id}/360p/${segments[0]}`)
    t.is(miss.source, 'origin')
    t.deepEqual(miss.body, bytes.get(segments[0]))
    t.is((await get(`${beta.url}/media/${id}/360p/${segments[0]}`)).source, 'local')

    // the main server goes down
    main.child.kill('SIGTERM')
    t.is(await main.exited, 0)
    const master = await get(`${alpha.url}/media/${id}/master.m3u8`)
    t.is(master.status, 200)
    t.is(master.source, 'local')
    for (const file of files) t.deepEqual((await get(`${alpha.url}/media/${id}/360p/${file}`)).body, bytes.get(file), file)
    const unheld = await get(`${beta.url}/media/${id}/480p/0.m4s`)
    t.is(unheld.status, 502)
    t.is(unheld.error, 'OriginUnavailableError')
    t.is((await get(`${beta.url}/media/${id}/480p/1.m4s`, { 'Cache-Control': 'only-if-cached' })).status, 412)

    // alpha restarts while the main server is still down: its folder is all it needs
    await alpha.stop()
    nodes[0] = await startNode({ dataDir: join(dir.path, 'alpha'), logLevel: 'silent', listen: '127.0.0.1:0', minBackoffMs: 200, maxBackoffMs: 1000, playlistTtlMs: 0 })
    const restarted = nodes[0]
    t.not((await restarted.firstAttempt()).state, 'registered')
    t.is((await get(`${restarted.url}/media/${id}/master.m3u8`)).status, 200)
    for (const file of files) {
      const res = await get(`${restarted.url}/media/${id}/360p/${file}`)
      t.is(res.source, 'local', file)
      t.deepEqual(res.body, bytes.get(file), file)
    }

    // the main server comes back on the same address: both nodes register again by themselves
    main = startMain(serverData, port)
    await waitFor(async () => await answers(url), 60_000, 'the main server to come back')
    await waitFor(() => restarted.status().state === 'registered', 30_000, 'alpha to register again')
    await waitFor(() => beta.status().state === 'registered' && beta.status().registrations >= 2, 30_000, 'beta to register again')
    t.is(restarted.dnsName, 'alpha.cidcast.internal', 'the same peer keeps its name')
    const back = await waitFor(async () => {
      const list = await (await fetch(`${url}/api/v1/nodes`, { headers })).json() as { items: Array<{ name: string, state: string }> }
      return list.items.every(n => n.state === 'online') && list.items.length === 2 ? list.items : undefined
    }, 30_000, 'both nodes online again')
    t.is(back.length, 2)
  } finally {
    for (const node of nodes) await node.stop().catch(() => {})
    main.child.kill('SIGKILL')
    await main.exited
    await dir.remove()
  }
})
