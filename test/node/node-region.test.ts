import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { NODE_CONFIG_FILE } from '../../core/config/index.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../helpers/auth.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { cidcast } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

/*
 * A node's region and tags (issue 13, item 1) end to end: a real main server, a real CDN node started with
 * `--region` and `--tags`, the API, `cidcast nodes` and `cidcast status` listing them, and the node restarted in
 * another region. Serial: one main server and one node's data folder for the file.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  server: RunningServer
  id: string
  viewer: string
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>

test.before(async t => {
  const dir = await tempDir('cidcast-node-region-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  // the admin's token also goes with `cidcast()` runs pointed at this server
  await adminToken(server)
  t.context = { dir: dir.path, remove: dir.remove, server, id: media.id, viewer: await viewerToken(server), running: [] }
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

/** The nodes `GET /api/v1/nodes` lists to a viewer. */
async function listed (t: { context: Context }): Promise<Array<{ name: string, region: string | null, tags: string[] }>> {
  const res = await fetch(`${t.context.server.url}/api/v1/nodes`, { headers: bearer(t.context.viewer) })
  return (await res.json() as { items: Array<{ name: string, region: string | null, tags: string[] }> }).items
}

test.serial('a node started with --region and --tags registers them: the API, cidcast nodes and its /healthz show them', async t => {
  const node = await registeredNode(t.context, t.context.server.url, 'edge', { region: 'EU-West', tags: 'gpu,SSD' })
  t.is(node.region, 'eu-west')
  t.deepEqual(node.tags, ['gpu', 'ssd'])

  t.deepEqual((await listed(t)).map(n => [n.name, n.region, n.tags]), [['edge', 'eu-west', ['gpu', 'ssd']]])
  const nodes = await cidcast('nodes', '--server', t.context.server.url)
  t.is(nodes.code, 0, nodes.stderr)
  t.regex(nodes.stdout, /^edge\tedge\.[^\t]+\tonline\tshared\teu-west\tgpu,ssd\t-\t[^\t]+ free\thttp:\/\/127\.0\.0\.1:\d+\/\n/m)
  t.like(await (await fetch(`${node.url}/healthz`)).json(), { name: 'edge', region: 'eu-west', tags: ['gpu', 'ssd'] })
})

test.serial('cidcast status names the region of each node that holds a rendition', async t => {
  const { server, id } = t.context
  const added = await cidcast('pin', 'add', id, '--profile', '360p', '--node', 'edge', '--wait', '--server', server.url)
  t.is(added.code, 0, added.stderr)
  const status = await cidcast('status', id, '--server', server.url)
  t.is(status.code, 0, status.stderr)
  t.regex(status.stdout, /^ {2}edge \(eu-west\)\tpinned\t/m)
})

test.serial('a node restarted in another region re-registers with it, and node.json remembers the new region beside the tags', async t => {
  const first = t.context.running.pop() as RunningNode
  await first.stop()
  // only the region is given again: the tags come from node.json
  const moved = await registeredNode(t.context, t.context.server.url, 'edge', { region: 'us-east' })
  t.deepEqual(moved.tags, ['gpu', 'ssd'])
  t.deepEqual((await listed(t)).map(n => [n.name, n.region, n.tags]), [['edge', 'us-east', ['gpu', 'ssd']]])
  t.like((await t.context.server.registry.list())[0], { label: 'edge', region: 'us-east' })
  t.like(JSON.parse(await readFile(join(t.context.dir, 'edge', NODE_CONFIG_FILE), 'utf8')), { name: 'edge', region: 'us-east', tags: ['gpu', 'ssd'] })

  // and with `--region ''` it has none, listed as such
  await moved.stop()
  t.context.running.pop()
  const cleared = await registeredNode(t.context, t.context.server.url, 'edge', { region: '' })
  t.is(cleared.region, undefined)
  t.deepEqual((await listed(t)).map(n => [n.name, n.region, n.tags]), [['edge', null, ['gpu', 'ssd']]])
})
