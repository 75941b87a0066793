import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import anyTest from 'ava'
import { createControlClient, ipnsNameOf } from '../../../core/control/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPeer } from '../../../core/net/peer.ts'
import { readSwarmKey } from '../../../core/config/index.ts'
import { startServer } from '../../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../../helpers/auth.ts'
import { cidcast, cidcastWith } from '../../helpers/spawn.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import { CAPACITY, HEALTH, runCleanup } from '../control/helpers.ts'
import type { Cleanup } from '../control/helpers.ts'
import type { ControlClient, NodeMode } from '../../../core/control/index.ts'
import type { Peer } from '../../../core/net/peer.ts'
import type { RunningServer } from '../../../node/server.ts'
import type { TestFn } from 'ava'

interface Context {
  server: RunningServer
  swarmKey: Uint8Array
  /** API tokens of the server's admin and of a viewer. */
  admin: string
  viewer: string
  cleanup: Cleanup
}

const test = anyTest as TestFn<Context>

interface Edge { peer: Peer, client: ControlClient }

test.before(async t => {
  const dir = await tempDir('cidcast-nodes-')
  const cleanup: Cleanup = [dir.remove]
  const data = join(dir.path, 'data')
  const server = await startServer({ dataDir: data, listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsZone: 'nodes.test', heartbeatSeconds: 0.3, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  cleanup.push(server.stop)
  // the admin's token also goes with `cidcast()` runs pointed at this server
  t.context = { server, swarmKey: await readSwarmKey(join(data, 'swarm.key')), admin: await adminToken(server), viewer: await viewerToken(server), cleanup }
})

test.after.always(async t => {
  await runCleanup(t.context.cleanup)
})

async function edge (t: { context: Context }): Promise<Edge> {
  const logger = silentLogger()
  const peer = await createPeer({ logger }, { swarmKey: t.context.swarmKey })
  t.context.cleanup.push(async () => { await peer.stop() })
  // as a node given only the server's HTTP URL does it
  const info = await (await fetch(`${t.context.server.url}/api/v1/server`)).json() as { peerId: string, addresses: string[] }
  const connection = await peer.libp2p.dial(info.addresses.map(a => multiaddr(a)), { signal: AbortSignal.timeout(5000) })
  return { peer, client: createControlClient({ libp2p: peer.libp2p, logger }, { server: connection.remotePeer }) }
}

async function register (node: Edge, name: string, mode: NodeMode = 'shared'): Promise<string> {
  const reply = await node.client.register({ name, mode, url: `http://${name.replace(/\W/g, '')}.example:8081/`, addresses: [], ipns: ipnsNameOf(node.peer.libp2p.peerId), capacity: CAPACITY })
  return reply.label
}

test.serial('GET /api/v1/server tells a node how to reach the main server', async t => {
  const response = await fetch(`${t.context.server.url}/api/v1/server`)
  t.is(response.status, 200)
  const info = await response.json() as { peerId: string, addresses: string[], zone: string, dnsListen: string }
  t.is(info.peerId, t.context.server.peer.libp2p.peerId.toString())
  t.true(info.addresses.length > 0)
  for (const address of info.addresses) t.true(address.endsWith(`/p2p/${info.peerId}`), address)
  t.is(info.zone, 'nodes.test')
  t.is(info.dnsListen, `127.0.0.1:${t.context.server.dns.address().port}`)
})

test.serial('GET /api/v1/nodes lists shared nodes with their state to viewers; local ones only with ?all=1, for admins', async t => {
  const shared = await edge(t)
  const local = await edge(t)
  t.is(await register(shared, 'Edge One'), 'edge-one')
  t.is(await register(local, 'my laptop', 'local'), 'my-laptop')
  await shared.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] })

  const response = await fetch(`${t.context.server.url}/api/v1/nodes`, { headers: bearer(t.context.viewer) })
  t.is(response.status, 200)
  t.is(response.headers.get('cache-control'), 'no-store')
  const { items } = await response.json() as { items: Array<Record<string, unknown>> }
  t.deepEqual(items, [{
    name: 'Edge One',
    label: 'edge-one',
    dnsName: 'edge-one.nodes.test',
    ipns: ipnsNameOf(shared.peer.libp2p.peerId),
    peerId: shared.peer.libp2p.peerId.toString(),
    mode: 'shared',
    region: null,
    tags: [],
    version: null,
    state: 'online',
    url: 'http://edgeone.example:8081/',
    capacity: CAPACITY,
    health: HEALTH,
    lastSeen: items[0].lastSeen,
    revoked: false
  }])
  t.regex(String(items[0].lastSeen), /^\d{4}-\d\d-\d\dT/)

  const all = await (await fetch(`${t.context.server.url}/api/v1/nodes?all=1`, { headers: bearer(t.context.admin) })).json() as { items: Array<{ label: string, mode: string, addresses: string[] }> }
  t.deepEqual(all.items.map(n => [n.label, n.mode]), [['edge-one', 'shared'], ['my-laptop', 'local']])
  t.true(Array.isArray(all.items[0].addresses))

  // the node stops beating: offline after three missed beats, listed as such
  await shared.peer.stop()
  await waitFor(async () => {
    const { items } = await (await fetch(`${t.context.server.url}/api/v1/nodes`, { headers: bearer(t.context.viewer) })).json() as { items: Array<{ state: string }> }
    return items[0].state === 'offline'
  }, 5000, 'the node to be listed offline')
  t.pass()
})

test.serial('cidcast nodes prints one line per node and nodes revoke bans one', async t => {
  const node = await edge(t)
  const label = await register(node, 'cli node')
  const server = t.context.server.url

  // the node beats while the CLI starts (seconds from source), as a running node would: beats here are 0.3 s apart
  const beating = setInterval(() => { node.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] }).catch(() => {}) }, 100)
  const list = await cidcast('nodes', '--server', server).finally(() => { clearInterval(beating) })
  t.is(list.code, 0, list.stderr)
  const line = list.stdout.split('\n').find(l => l.startsWith('cli node\t'))
  t.is(line, `cli node\t${label}.nodes.test\tonline\tshared\t-\t-\t-\t9.0 GiB free\thttp://clinode.example:8081/`)
  t.false(list.stdout.includes('my laptop'))

  const revoked = await cidcast('nodes', 'revoke', label, '--server', server)
  t.is(revoked.code, 0, revoked.stderr)
  t.is(revoked.stdout, `revoked ${label} ${node.peer.libp2p.peerId.toString()}\n`)
  await waitFor(() => node.peer.libp2p.getConnections(t.context.server.peer.libp2p.peerId).length === 0, 5000, 'the revoked node to be disconnected')
  await t.throwsAsync(node.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] }))

  const after = await cidcast('nodes', '--all', '--server', server)
  t.is(after.code, 0, after.stderr)
  t.regex(after.stdout, new RegExp(`^cli node\\t${label}\\.nodes\\.test\\trevoked\\tshared\\t`, 'm'))
  t.regex(after.stdout, /^my laptop\tmy-laptop\.nodes\.test\t(?:online|offline)\tlocal\t/m)
  t.false((await cidcast('nodes', '--server', server)).stdout.includes('cli node'))

  const unknown = await cidcast('nodes', 'revoke', 'no-such-node', '--server', server)
  t.is(unknown.code, 1)
  t.regex(unknown.stderr, /^error: NodeNotFoundError: no node has the name, label or peer ID "no-such-node"/)
})

test.serial('revoking and listing every node need an admin: a viewer gets 403 and no credential 401, with JSON errors and one CLI line', async t => {
  const { server, admin, viewer } = t.context
  const node = await edge(t)
  const label = await register(node, 'kept node')
  const peerId = node.peer.libp2p.peerId.toString()

  for (const [headers, status, error] of [[bearer(viewer), 403, 'PermissionDeniedError'], [{}, 401, 'AuthenticationRequiredError']] as const) {
    const revoke = await fetch(`${server.url}/api/v1/nodes/${label}/revoke`, { method: 'POST', headers })
    t.is(revoke.status, status)
    t.like(await revoke.json(), { error })
    const all = await fetch(`${server.url}/api/v1/nodes?all=1`, { headers })
    t.is(all.status, status)
    t.like(await all.json(), { error })
  }
  // what every signed-in user may see stays open to viewers, and only to them
  t.is((await fetch(`${server.url}/api/v1/nodes`, { headers: bearer(viewer) })).status, 200)
  t.is((await fetch(`${server.url}/api/v1/nodes`)).status, 401)

  // the CLI says so in one line; no saved login of this machine's user stands in for a missing token
  const config = await tempDir('cidcast-nodes-config-')
  t.teardown(config.remove)
  const asViewer = await cidcastWith({ env: { CIDCAST_TOKEN: viewer, XDG_CONFIG_HOME: config.path } }, 'nodes', 'revoke', label, '--server', server.url)
  t.is(asViewer.code, 1)
  t.regex(asViewer.stderr, /^error: PermissionDeniedError: [^\n]+\n$/)
  const anonymous = await cidcastWith({ env: { CIDCAST_TOKEN: '', XDG_CONFIG_HOME: config.path } }, 'nodes', '--all', '--server', server.url)
  t.is(anonymous.code, 1)
  t.regex(anonymous.stderr, /^error: AuthenticationRequiredError: log in first: cidcast login --server http:\/\/127\.0\.0\.1:\d+\n$/)

  // nothing was revoked: the node is listed as before and still beats
  t.false((await server.registry.list()).find(n => n.peerId === peerId)?.revoked)
  await node.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] })
  // an admin reaches the route: an unknown name is a JSON 404
  const missing = await fetch(`${server.url}/api/v1/nodes/nobody/revoke`, { method: 'POST', headers: bearer(admin) })
  t.is(missing.status, 404)
  t.like(await missing.json(), { error: 'NodeNotFoundError' })
})
