import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import test from 'ava'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { startServer } from '../../node/server.ts'
import { adminFetch, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { rootToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ReplicationView } from '../../core/replication/index.ts'
import type { RunningServer } from '../../node/server.ts'
import type { Daemon } from '../helpers/spawn.ts'

/*
 * What a service manager relies on (issue 14, item 4): `systemctl stop` and a restart after a failure send the
 * node SIGTERM and start it again with `--data DIR` alone. The node process must exit 0 soon after SIGTERM, and
 * the next start on the same folder must register again and still hold its pins.
 */

/** How long the node may take to stop on SIGTERM (the systemd unit gives it 30 s before SIGKILL). */
const STOP_DEADLINE_MS = 20_000

async function api<T> (server: RunningServer, method: string, path: string, body?: unknown): Promise<T> {
  const res = await adminFetch(server, path, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json() as T
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Waits for the `dns: NAME` line a node prints once registered, and its gateway's URL line. */
async function registered (node: Daemon): Promise<{ url: string, dns: string }> {
  const dns = await waitFor(() => /^dns: (\S+)$/m.exec(node.stdout())?.[1], 60_000, `the node to register (${node.stderr()})`)
  const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(node.stdout())?.[1], 1000, 'the gateway URL')
  return { url, dns }
}

test('a node process stops with exit code 0 on SIGTERM, and started again with --data alone registers again with its pins still pinned', async t => {
  const dir = await tempDir('cidcast-node-restart-')
  const parts: Array<() => Promise<void>> = [dir.remove]
  try {
    const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
    parts.push(server.stop)
    const bytes = randomBytes(3 * 1024 * 1024)
    const cid = (await unixfs(server.peer).addBytes(bytes, IMPORT_OPTIONS)).toString()
    const data = join(dir.path, 'node')

    const first = runNode([CLI, 'node', '--data', data, '--swarm-key', join(dir.path, 'server', 'swarm.key'), '--server', server.url, '--name', 'svc', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])
    parts.push(async () => { first.child.kill('SIGKILL'); await first.exited })
    t.is((await registered(first)).dns, 'svc.cidcast.internal')
    await api(server, 'POST', '/api/v1/replications', { cid, node: 'svc' })
    await waitFor(async () => (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?cid=${cid}&node=svc`)).items[0]?.state === 'pinned', 60_000, 'the pin to finish')

    first.child.kill('SIGTERM')
    await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, STOP_DEADLINE_MS, 'the node to exit after SIGTERM')
    t.is(await first.exited, 0, first.stderr())
    t.regex(first.stderr(), /^SIGTERM: stopping$/m)

    // what a service's ExecStart runs: the folder, nothing else
    const again = runNode([CLI, 'node', '--data', data])
    parts.push(async () => { again.child.kill('SIGKILL'); await again.exited })
    const { url, dns } = await registered(again)
    t.is(dns, 'svc.cidcast.internal')
    // registration keeps the last list of pins the server heard; a heartbeat after it carries the node's own
    const since = Date.now()
    const view = await waitFor(async () => {
      const node = (await api<{ items: Array<{ name: string, lastSeen: string | null, pinned: string[] }> }>(server, 'GET', '/api/v1/nodes?all=1')).items.find(n => n.name === 'svc')
      return node?.lastSeen != null && Date.parse(node.lastSeen) > since && node
    }, 30_000, 'a heartbeat of the restarted node')
    t.true(view.pinned.includes(cid), `heartbeat lists ${view.pinned.join(', ')}`)
    const [row] = (await api<{ items: ReplicationView[] }>(server, 'GET', `/api/v1/replications?cid=${cid}&node=svc`)).items
    t.like(row, { state: 'pinned', reachable: true })
    const res = await fetch(withToken(`${url}/ipfs/${cid}`, rootToken(server, [cid])), { headers: { 'Cache-Control': 'only-if-cached' } })
    t.is(res.status, 200)
    t.is(res.headers.get('x-cidcast-source'), 'local')
    t.true(Buffer.from(await res.arrayBuffer()).equals(bytes), 'the node holds every byte')

    again.child.kill('SIGTERM')
    t.is(await again.exited, 0)
  } finally {
    for (const stop of parts.reverse()) await stop().catch(() => {})
  }
})
