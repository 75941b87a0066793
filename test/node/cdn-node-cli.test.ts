import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { generateSwarmKey } from '../../core/config/index.ts'
import { startServer } from '../../node/server.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { Daemon } from '../helpers/spawn.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ server: RunningServer, dir: string, remove: () => Promise<void> }>

test.before(async t => {
  const dir = await tempDir('cidcast-node-cli-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent' })
  t.context = { server, dir: dir.path, remove: dir.remove }
})

test.after.always(async t => {
  await t.context.server?.stop()
  await t.context.remove?.()
})

function cidcastNode (args: string[], env: Record<string, string> = {}): Daemon {
  return runNode([CLI, 'node', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', ...args], env)
}

test('cidcast node prints its gateway URL and DNS name, remembers its settings, and stops on SIGTERM', async t => {
  const data = join(t.context.dir, 'node')
  const swarmKey = join(t.context.dir, 'server', 'swarm.key')
  const daemon = cidcastNode(['--data', data, '--swarm-key', swarmKey, '--server', t.context.server.url, '--name', 'Living Room'])
  try {
    const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(daemon.stdout())?.[1], 60_000, 'the gateway URL')
    const dns = await waitFor(() => /^dns: (\S+)$/m.exec(daemon.stdout())?.[1], 30_000, 'the DNS name')
    t.is(dns, 'living-room.cidcast.internal')
    const health = await (await fetch(`${url}/healthz`)).json()
    t.is(health.role, 'node')
    t.is(health.name, 'Living Room')
    daemon.child.kill('SIGTERM')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
  }
  // the second run needs only the data folder
  const again = cidcastNode(['--data', data])
  try {
    t.is(await waitFor(() => /^dns: (\S+)$/m.exec(again.stdout())?.[1], 60_000, 'the DNS name'), 'living-room.cidcast.internal')
    again.child.kill('SIGINT')
    t.is(await again.exited, 0)
  } finally {
    again.child.kill('SIGKILL')
  }
})

test('cidcast node with another swarm key exits with one line saying why', async t => {
  const other = join(t.context.dir, 'other.key')
  await writeFile(other, generateSwarmKey())
  const daemon = cidcastNode(['--data', join(t.context.dir, 'stranger'), '--swarm-key', other, '--server', t.context.server.url])
  try {
    t.is(await daemon.exited, 1)
    const lines = daemon.stderr().trim().split('\n')
    t.is(lines.length, 1, daemon.stderr())
    t.regex(lines[0], /^error: PrivateNetworkRefusedError: .*swarm\.key/)
  } finally {
    daemon.child.kill('SIGKILL')
  }
})

test('cidcast node without a swarm key refuses to start, and names LIBP2P_FORCE_PNET when it is set', async t => {
  const plain = cidcastNode(['--data', join(t.context.dir, 'keyless-1'), '--server', t.context.server.url])
  t.is(await plain.exited, 1)
  t.regex(plain.stderr(), /^error: SwarmKeyMissingError: .*--swarm-key/)
  const forced = cidcastNode(['--data', join(t.context.dir, 'keyless-2'), '--server', t.context.server.url], { LIBP2P_FORCE_PNET: '1' })
  t.is(await forced.exited, 1)
  t.regex(forced.stderr(), /^error: PrivateNetworkRequiredError: LIBP2P_FORCE_PNET=1/)
  t.is(forced.stderr().trim().split('\n').length, 1)
})
