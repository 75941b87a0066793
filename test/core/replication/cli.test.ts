import { join } from 'node:path'
import test from 'ava'
import { fixture, writeClip } from '../../../fixtures/media.ts'
import { startNode } from '../../../node/cdn-node.ts'
import { startServer } from '../../../node/server.ts'
import { adminToken, TEST_ACCOUNTS } from '../../helpers/auth.ts'
import { cidcast } from '../../helpers/spawn.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { RunningNode } from '../../../node/cdn-node.ts'

/*
 * The CLI against a real main server and real CDN nodes (their pinner carries the orders out): `--replicas`
 * places on the freest nodes, `status` has one line per node, a stopped node keeps its row and is shown
 * unreachable with the reason, `pin rm` unpins from the others.
 */

const MiB = 2 ** 20

test('pin add --replicas 1:2 --wait places on the two freest nodes; status shows every node, a stopped one unreachable; pin rm unpins', async t => {
  const dir = await tempDir('cidcast-replication-cli-')
  const running: Array<{ stop: () => Promise<void> }> = []
  t.teardown(async () => {
    for (const part of running.reverse()) await part.stop().catch(() => {})
    await dir.remove()
  })
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 0.5, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  running.push(server)
  // `cidcast()` runs pointed at this server carry its admin's token
  await adminToken(server)
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root ?? ''
  t.not(root, '')

  const nodes = new Map<string, RunningNode>()
  for (const [name, quota] of [['small', 200], ['large', 400], ['medium', 300]] as const) {
    const node = await startNode({ dataDir: join(dir.path, name), swarmKeyFile: join(dir.path, 'server', 'swarm.key'), server: server.url, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500, quotaBytes: quota * MiB })
    running.push(node)
    nodes.set(name, node)
  }
  for (const [name, node] of nodes) await waitFor(() => node.status().state === 'registered', 20_000, `${name} to register`)

  const added = await cidcast('pin', 'add', media.id, '--replicas', '1:2', '--wait', '--timeout', '60', '--server', server.url)
  t.is(added.code, 0, added.stderr)
  const pinned = added.stdout.split('\n').filter(l => l.startsWith('pinned ')).sort()
  t.deepEqual(pinned, [`pinned ${root} on large`, `pinned ${root} on medium`], added.stdout)

  const status = await cidcast('status', media.id, '--server', server.url)
  t.is(status.code, 0, status.stderr)
  const lines = status.stdout.split('\n')
  t.true(lines.includes(`${root}\t${media.id} 360p\tmain server holds it`), status.stdout)
  t.regex(status.stdout, /^ {2}large\tpinned\t100% \d+\/\d+ blocks, [\d.]+ KiB$/m)
  t.regex(status.stdout, /^ {2}medium\tpinned\t100% /m)
  t.true(lines.includes('  replicas 1:2: held by large, medium'), 'the factor kept, and who holds it')
  t.false(status.stdout.includes('small'))

  // medium goes away: its row stays, shown unreachable and why
  await nodes.get('medium')?.stop()
  const away = await waitFor(async () => {
    const out = (await cidcast('status', media.id, '--server', server.url)).stdout
    return /^ {2}medium\tpinned \(unreachable\)\t/m.test(out) ? out : undefined
  }, 20_000, 'medium to be shown unreachable')
  t.regex(away, /^ {2}medium\tpinned \(unreachable\)\t100% .*\tnode medium is unreachable \(last seen \d+ s ago\); it last reported this root pinned/m)

  const removed = await cidcast('pin', 'rm', media.id, '--node', 'large', '--wait', '--timeout', '30', '--server', server.url)
  t.is(removed.code, 0, removed.stderr)
  t.is(removed.stdout, `unpinned ${root} on large\n`)
  const ls = await cidcast('pin', 'ls', '--server', server.url)
  t.deepEqual(ls.stdout.split('\n').filter(l => l !== '').map(l => l.split('\t').slice(0, 3)), [[root, 'medium', 'pinned (unreachable)']])
})

test('pin add --wait of a title not transcoded yet waits while the main server makes it, then pins it on the node', async t => {
  const dir = await tempDir('cidcast-replication-fresh-')
  const running: Array<{ stop: () => Promise<void> }> = []
  t.teardown(async () => {
    for (const part of running.reverse()) await part.stop().catch(() => {})
    await dir.remove()
  })
  // 240 px high: the ladder is one rung (240p), made on demand only
  const clip = await writeClip(join(dir.path, 'clip.mp4'), 426, 240, 4)
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 0.5, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  running.push(server)
  // `cidcast()` runs pointed at this server carry its admin's token
  await adminToken(server)
  const node = await startNode({ dataDir: join(dir.path, 'rep'), swarmKeyFile: join(dir.path, 'server', 'swarm.key'), server: server.url, name: 'rep', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500 })
  running.push(node)
  await waitFor(() => node.status().state === 'registered', 20_000, 'rep to register')

  const added = await cidcast('add', clip, '--server', server.url)
  t.is(added.code, 0, added.stderr)
  const id = /^added ([0-9a-f]{16}) /m.exec(added.stdout)?.[1] ?? ''
  t.deepEqual((await server.library.get(id)).renditions.map(r => [r.profile, r.root]), [['240p', null]], 'nothing is transcoded before the pin')

  const pinned = await cidcast('pin', 'add', id, '--node', 'rep', '--wait', '--timeout', '120', '--server', server.url)
  t.is(pinned.code, 0, `${pinned.stdout}\n${pinned.stderr}`)
  t.regex(pinned.stdout, new RegExp(`^preparing ${id} 240p for rep \\(the main server is making every segment`, 'm'))
  const root = (await server.library.get(id)).renditions[0].root
  if (root == null) return t.fail('the rendition has no root after the pin')
  t.true(pinned.stdout.split('\n').includes(`pinned ${root} on rep`), pinned.stdout)
  t.is(pinned.stderr, '')
  const pins: string[] = []
  for await (const pin of node.peer.pins.ls()) pins.push(pin.cid.toString())
  t.true(pins.includes(root), 'the node holds the pin')
})
