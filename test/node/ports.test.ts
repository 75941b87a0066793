import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import anyTest from 'ava'
import Koa from 'koa'
import { fixture } from '../../fixtures/media.ts'
import { createDnsServer } from '../../core/dns/server.ts'
import { createDaemonLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/peer.ts'
import { startNode } from '../../node/cdn-node.ts'
import { listenHttp } from '../../node/http-listener.ts'
import { NODE_CONFIG_FILE } from '../../core/config/index.ts'
import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS } from '../helpers/auth.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { Daemon } from '../helpers/spawn.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { AddressInfo } from 'node:net'

const test = anyTest as TestFn<{ server: RunningServer, dir: string, remove: () => Promise<void>, swarmKey: string, mediaId: string }>

/** libp2p's words, which no user should read. */
const LIBP2P_WORDS = /faultTolerance|transportManager|UnsupportedListenAddress|NO_FATAL/

test.before(async t => {
  const dir = await tempDir('cidcast-ports-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  t.context = { server, dir: dir.path, remove: dir.remove, swarmKey: join(dir.path, 'server', 'swarm.key'), mediaId: media.id }
})

test.after.always(async t => {
  await t.context.server?.stop()
  await t.context.remove?.()
})

/** Holds a TCP port on 127.0.0.1 (a free one, or `port`), as another program would, until the test ends. */
async function holdPort (t: { teardown: (fn: () => Promise<void>) => void }, port = 0): Promise<number> {
  const held = createServer()
  held.listen(port, '127.0.0.1')
  await once(held, 'listening')
  t.teardown(async () => { await new Promise(resolve => held.close(resolve)) })
  return (held.address() as AddressInfo).port
}

/** A root logger whose JSON entries the test can read. */
async function capturingLogger (): Promise<{ logger: Awaited<ReturnType<typeof createDaemonLogger>>, entries: () => Array<Record<string, unknown>> }> {
  let text = ''
  const logger = await createDaemonLogger({ level: 'info', format: 'json', output: { write: (s: string) => { text += s } } })
  return { logger, entries: () => text.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l)) }
}

function tcpPort (address: string): number {
  return Number(/\/tcp\/(\d+)/.exec(address)?.[1])
}

/** The lines a failed daemon printed on stderr, once it has exited. */
async function failure (daemon: Daemon): Promise<{ code: number | null, lines: string[] }> {
  const code = await daemon.exited
  return { code, lines: daemon.stderr().trim().split('\n') }
}

test('a taken default port moves to a free one, with a warning naming the default and the chosen address', async t => {
  const { logger, entries } = await capturingLogger()
  const log = logger.child({ name: 'cidcast:test' })

  const httpHeld = await holdPort(t)
  const http = await listenHttp(new Koa(), { key: 'listen', address: `127.0.0.1:${httpHeld}` }, log)
  t.teardown(http.close)
  t.not(http.address.port, httpHeld)

  const dnsHeld = await holdPort(t)
  const dns = createDnsServer({ logger, nodes: async () => [] }, { listen: { key: 'dnsListen', address: `127.0.0.1:${dnsHeld}` } })
  await dns.start()
  t.teardown(async () => { await dns.stop() })
  t.not(dns.address().port, dnsHeld)

  const p2pHeld = await holdPort(t)
  let listened: string[] = []
  const peer = await createPeer({ logger }, { swarmKey: randomBytes(32), listen: [{ key: 'p2pListen', address: `/ip4/127.0.0.1/tcp/${p2pHeld}` }], onListen: a => { listened = a } })
  t.teardown(async () => { await peer.stop() })
  const p2pPort = tcpPort(listened[0])
  t.not(p2pPort, p2pHeld)
  t.true(peer.libp2p.getMultiaddrs().every(a => tcpPort(a.toString()) === p2pPort), 'libp2p announces the port it really has')

  const moved = entries().filter(e => e.level === 40)
  t.deepEqual(moved.map(e => [e.msg, e.default, e.chosen]), [
    ['default listen is taken: listening on another port', `127.0.0.1:${httpHeld}`, `127.0.0.1:${http.address.port}`],
    ['default dnsListen is taken: listening on another port', `127.0.0.1:${dnsHeld}`, `127.0.0.1:${dns.address().port}`],
    ['default p2pListen is taken: listening on another port', `/ip4/127.0.0.1/tcp/${p2pHeld}`, `/ip4/127.0.0.1/tcp/${p2pPort}`]
  ])
})

test('a taken libp2p port given in code fails with PortInUseError naming p2pListen, not in libp2p\'s words', async t => {
  const held = await holdPort(t)
  const { logger } = await capturingLogger()
  const err = await t.throwsAsync(createPeer({ logger }, { swarmKey: randomBytes(32), listen: [`/ip4/127.0.0.1/tcp/${held}`] }), { name: 'PortInUseError' })
  t.is(err?.message, `p2pListen /ip4/127.0.0.1/tcp/${held} is in use by another program; choose another port or stop that program`)
})

/** The daemon exits 1 with the one line that names the setting and its address, in no words of libp2p's. */
async function refusedInOneLine (t: ExecutionContext, daemon: ReturnType<typeof runNode>, name: string, setting: string): Promise<void> {
  try {
    const { code, lines } = await failure(daemon)
    t.is(code, 1, name)
    t.deepEqual(lines, [`error: PortInUseError: ${setting} is in use by another program; choose another port or stop that program`], name)
    t.notRegex(daemon.stdout() + daemon.stderr(), LIBP2P_WORDS, name)
  } finally {
    daemon.child.kill('SIGKILL')
  }
}

test.serial('cidcast server stops with one line naming the setting and address when a port it was given is taken', async t => {
  const held = await holdPort(t)
  const runs: Array<[string, string[], Record<string, string>, string]> = [
    ['listen', ['--listen', `127.0.0.1:${held}`], {}, `--listen 127.0.0.1:${held}`],
    ['p2p', ['--p2p-listen', `/ip4/127.0.0.1/tcp/${held}`], {}, `--p2p-listen /ip4/127.0.0.1/tcp/${held}`],
    ['dns', [], { CIDCAST_DNS_LISTEN: `127.0.0.1:${held}` }, `CIDCAST_DNS_LISTEN 127.0.0.1:${held}`]
  ]
  // one after another: each loads the whole server, and the machine has two cores
  for (const [name, flags, env, setting] of runs) {
    const daemon = runNode([CLI, 'server', '--data', join(t.context.dir, `server-${name}`), ...flags], {
      CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', ...env
    })
    await refusedInOneLine(t, daemon, name, setting)
  }
})

test.serial('cidcast node stops with one line naming the setting and address when a port it was given is taken', async t => {
  const held = await holdPort(t)
  const remembered = join(t.context.dir, 'node-remembered')
  await mkdir(remembered, { recursive: true })
  await writeFile(join(remembered, NODE_CONFIG_FILE), JSON.stringify({ name: 'r', listen: `127.0.0.1:${held}` }))
  const runs: Array<[string, string[], Record<string, string>, string]> = [
    ['listen', ['--listen', `127.0.0.1:${held}`, '--p2p-listen', '/ip4/127.0.0.1/tcp/0'], {}, `--listen 127.0.0.1:${held}`],
    ['p2p', ['--listen', '127.0.0.1:0', '--p2p-listen', `/ip4/127.0.0.1/tcp/${held}`], {}, `--p2p-listen /ip4/127.0.0.1/tcp/${held}`],
    ['env', ['--listen', '127.0.0.1:0'], { CIDCAST_NODE_P2P_LISTEN: `/ip4/127.0.0.1/tcp/${held}` }, `CIDCAST_NODE_P2P_LISTEN /ip4/127.0.0.1/tcp/${held}`],
    ['remembered', ['--p2p-listen', '/ip4/127.0.0.1/tcp/0'], {}, `listen in ${join(remembered, NODE_CONFIG_FILE)} 127.0.0.1:${held}`]
  ]
  for (const [name, flags, env, setting] of runs) {
    const data = name === 'remembered' ? remembered : join(t.context.dir, `node-${name}`)
    const daemon = runNode([CLI, 'node', '--data', data, '--swarm-key', t.context.swarmKey, '--server', t.context.server.url, ...flags], env)
    await refusedInOneLine(t, daemon, name, setting)
  }
})

test('a default given by npm start (the main server\'s port + 1) moves when taken and is not written to node.json', async t => {
  const held = await holdPort(t)
  const dataDir = join(t.context.dir, 'npm-start-node')
  const node = await startNode({ dataDir, swarmKeyFile: t.context.swarmKey, server: t.context.server.url, name: 'beside', logLevel: 'silent', defaults: { listen: `127.0.0.1:${held}`, p2pListen: ['/ip4/127.0.0.1/tcp/0'] } })
  t.teardown(async () => { await node.stop() })
  t.not(new URL(node.url).port, String(held))
  const saved = JSON.parse(await readFile(join(dataDir, NODE_CONFIG_FILE), 'utf8'))
  t.is(saved.listen, undefined)
  t.is(saved.p2pListen, undefined)
  t.is(saved.picked.listen, `127.0.0.1:${new URL(node.url).port}`)
})

/** `cidcast node` with nothing but its name and the main server: every port is a default. */
function defaultNode (t: { context: { dir: string, swarmKey: string, server: RunningServer } }, name: string): Daemon {
  return runNode([CLI, 'node', '--data', join(t.context.dir, `default-${name}`), '--name', name, '--server', t.context.server.url, '--swarm-key', t.context.swarmKey])
}

async function started (daemon: Daemon, name: string): Promise<{ url: string, dns: string }> {
  const url = await waitFor(() => /^(http:\/\/\S+)$/m.exec(daemon.stdout())?.[1], 60_000, `${name}'s URL (stderr: ${daemon.stderr()})`)
  const dns = await waitFor(() => /^dns: (\S+)$/m.exec(daemon.stdout())?.[1], 30_000, `${name}'s registration`)
  return { url, dns }
}

function warnings (daemon: Daemon): Array<Record<string, string>> {
  return daemon.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.level === 40)
}

test.serial('a second CDN node beside a first on default ports starts, registers its real addresses, serves a segment and keeps its URL', async t => {
  const { server, mediaId } = t.context
  const first = defaultNode(t, 'one')
  t.teardown(() => { first.child.kill('SIGKILL') })
  const one = await started(first, 'the first node')
  const second = defaultNode(t, 'two')
  t.teardown(() => { second.child.kill('SIGKILL') })
  const two = await started(second, 'the second node')
  t.is(two.dns, `two.${server.dns.zone}`)
  t.not(new URL(two.url).port, new URL(one.url).port)

  // the first may have met a port held by someone else too; the second always met the first's
  const moved = Object.fromEntries(warnings(second).map(e => [e.msg, e]))
  const httpMove = moved['default listen is taken: listening on another port']
  const p2pMove = moved['default p2pListen is taken: listening on another port']
  t.truthy(httpMove, second.stdout())
  t.truthy(p2pMove, second.stdout())
  t.is(httpMove.default, '0.0.0.0:8081')
  t.is(httpMove.chosen, `0.0.0.0:${new URL(two.url).port}`)
  t.is(p2pMove.default, '/ip4/0.0.0.0/tcp/4002')
  const p2pPort = tcpPort(p2pMove.chosen)
  t.notRegex(second.stdout() + second.stderr(), LIBP2P_WORDS)

  // the main server knows the ports the node really has
  const row = await waitFor(async () => (await server.registry.list()).find(n => n.name === 'two' && n.state === 'online'), 10_000, 'the second node online')
  t.is(new URL(row.url).origin, new URL(two.url).origin)
  t.true(row.addresses.length > 0 && row.addresses.every(a => tcpPort(a) === p2pPort), row.addresses.join(' '))

  // and it plays: the master playlist and a segment through the second node
  const token = await streamToken(server, mediaId)
  const master = await fetch(withToken(`${two.url}/media/${mediaId}/master.m3u8`, token))
  t.is(master.status, 200)
  const segment = await fetch(withToken(`${two.url}/media/${mediaId}/360p/0.m4s`, token))
  t.is(segment.status, 200)
  t.true((await segment.arrayBuffer()).byteLength > 1000)

  // ports it was never given are not remembered as settings; where they moved is, so a restart keeps its URL
  const data = join(t.context.dir, 'default-two')
  const saved = JSON.parse(await readFile(join(data, NODE_CONFIG_FILE), 'utf8'))
  t.is(saved.listen, undefined)
  t.is(saved.p2pListen, undefined)
  t.deepEqual(saved.picked, { listen: httpMove.chosen, p2pListen: p2pMove.chosen })
  second.child.kill('SIGTERM')
  t.is(await second.exited, 0)
  const again = runNode([CLI, 'node', '--data', data])
  t.teardown(() => { again.child.kill('SIGKILL') })
  t.is((await started(again, 'the restarted node')).url, two.url)
  again.child.kill('SIGTERM')
  first.child.kill('SIGTERM')
  t.is(await again.exited, 0)
  t.is(await first.exited, 0)
})
