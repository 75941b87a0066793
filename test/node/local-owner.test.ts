import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { PUBLIC_KEYS_FILE } from '../../core/access/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../helpers/auth.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { cidcast } from '../helpers/spawn.ts'
import { play, refused, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Local nodes serve only their owner (issue 11, item 5): a real main server with real accounts, a real local CDN
 * node registered with `--owner`, play URLs over HTTP, every playlist and segment fetched from the node; the same
 * with the main server stopped and the node restarted. Serial: one main server for the file, stopped by the last test.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  server: RunningServer
  id: string
  /** API tokens of the owner, of another viewer and of the first admin. */
  alice: string
  bob: string
  admin: string
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>

test.before(async t => {
  const dir = await tempDir('cidcast-local-owner-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  t.context = { dir: dir.path, remove: dir.remove, server, id: media.id, alice: await viewerToken(server, 'alice'), bob: await viewerToken(server, 'bob'), admin: await adminToken(server), running: [] }
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

/** A running node of an earlier test. */
function running (t: ExecutionContext<Context>, name: string): RunningNode {
  const found = t.context.running.find(part => (part as RunningNode).name === name) as RunningNode | undefined
  if (found == null) throw new Error(`no node ${name}: the tests of this file run in order`)
  return found
}

/** `GET /api/v1/media/{id}/play?node=` as the holder of `token`: its status and body. */
async function playUrl (t: ExecutionContext<Context>, token: string, node: string): Promise<{ status: number, body: { url?: string, error?: string, message?: string } }> {
  const res = await fetch(`${t.context.server.url}/api/v1/media/${t.context.id}/play?node=${encodeURIComponent(node)}&ttl=600`, { headers: bearer(token) })
  return { status: res.status, body: await res.json() as { url?: string } }
}

/** Plays the owner's URL (every playlist and segment 200) and refuses another user's stream token with 403 OwnerOnlyError. */
async function servesOnlyTheOwner (t: ExecutionContext<Context>, base: string, ownerUrl: string, otherToken: string, label: string): Promise<void> {
  const fetched = await play(`${base}${new URL(ownerUrl).pathname}${new URL(ownerUrl).search}`)
  t.true(fetched.filter(f => f.url.includes('.m4s')).length >= 3, `${label}: the segments were fetched`)
  t.deepEqual(fetched.filter(f => f.status !== 200), [], `${label}: every playlist and segment answers 200`)
  const master = `${base}/media/${t.context.id}/master.m3u8`
  t.like(await refused(withToken(master, otherToken)), { status: 403, error: 'OwnerOnlyError', message: 'this is a local node that serves only its owner' }, `${label}: another user's token`)
  t.like(await refused(master), { status: 401, error: 'TokenMissingError' }, `${label}: no token`)
}

test.serial('a local node with --owner plays its owner\'s play URL; another user gets no play URL for it and their token is refused', async t => {
  const { server, alice, bob } = t.context
  const laptop = await registeredNode(t.context, server.url, 'laptop', { mode: 'local', owner: 'Alice' })
  t.is(laptop.owner, 'alice')
  const aliceId = (await server.accounts.getUser('alice')).id
  // the owner's id came back with the registration and is kept beside the keys, for when the main server is down
  await waitFor(() => laptop.streamKeys.owner() === aliceId, 10_000, 'the owner id on the node')
  t.is(JSON.parse(await readFile(join(t.context.dir, 'laptop', PUBLIC_KEYS_FILE), 'utf8')).owner, aliceId)

  const owned = await playUrl(t, alice, 'laptop')
  t.is(owned.status, 200, JSON.stringify(owned.body))
  t.true(owned.body.url?.startsWith(`${laptop.url}/media/`))
  const other = await playUrl(t, bob, 'laptop')
  t.like(other, { status: 403, body: { error: 'ForbiddenError', message: 'node laptop is a local node that serves only its owner' } })
  // bob's own token, for this media on the main server: valid, but not the owner's
  const bobs = await server.streamUrls.create({ userId: (await server.accounts.getUser('bob')).id, mediaId: t.context.id })
  await servesOnlyTheOwner(t, laptop.url, owned.body.url ?? '', bobs.token, 'online')
})

test.serial('GET /api/v1/nodes lists a local node to its owner and to nobody else; admins see every owner, and cidcast nodes prints it', async t => {
  const { server, alice, bob, admin } = t.context
  await registeredNode(t.context, server.url, 'edge', { owner: 'bob' })
  const list = async (token: string, query = ''): Promise<Array<{ name: string, mode: string, owner?: string | null }>> => {
    const res = await fetch(`${server.url}/api/v1/nodes${query}`, { headers: bearer(token) })
    t.is(res.status, 200)
    return (await res.json() as { items: Array<{ name: string, mode: string, owner?: string | null }> }).items
  }
  t.deepEqual((await list(alice)).map(n => [n.name, n.mode, n.owner]), [['edge', 'shared', undefined], ['laptop', 'local', 'alice']], 'alice: her own node, with its owner')
  t.deepEqual((await list(bob)).map(n => [n.name, n.mode, n.owner]), [['edge', 'shared', 'bob']], 'bob: not alice\'s local node; his own shared one shows him')
  t.deepEqual((await list(admin)).map(n => [n.name, n.owner]), [['edge', 'bob']], 'admins: the listed nodes with owners')
  t.deepEqual((await list(admin, '?all=1')).map(n => [n.name, n.owner]), [['edge', 'bob'], ['laptop', 'alice']], 'admins: every node')

  const cli = await cidcast('nodes', '--all', '--server', server.url)
  t.is(cli.code, 0, cli.stderr)
  t.regex(cli.stdout, /^laptop\tlaptop\.[^\t]+\tonline\tlocal\t-\t-\talice\t[^\t]+ free\thttp:\/\/127\.0\.0\.1:\d+\/\n/m)
  t.regex(cli.stdout, /^edge\tedge\.[^\t]+\tonline\tshared\t-\t-\tbob\t/m)
})

test.serial('an owner the main server does not know is refused clearly; the node keeps retrying and registers once the user exists', async t => {
  const { server } = t.context
  const node = await startNode({ dataDir: join(t.context.dir, 'stranger'), swarmKeyFile: join(t.context.dir, 'server', 'swarm.key'), server: server.url, name: 'stranger', mode: 'local', owner: 'carol', listen: '127.0.0.1:0', logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 300 })
  t.context.running.push(node)
  const first = await node.firstAttempt()
  t.is(first.state, 'retrying')
  t.is(first.error?.name, 'UnknownOwnerError')
  t.regex(first.error?.message ?? '', /the owner "carol" is no user of this main server: add the user \(cidcast user add carol\)/)
  t.false((await server.registry.list()).some(n => n.name === 'stranger'), 'not registered')
  await server.accounts.addUser({ name: 'carol', role: 'viewer' })
  await waitFor(() => node.status().state === 'registered', 10_000, 'the node to register once carol exists')
  t.is((await server.registry.list()).find(n => n.name === 'stranger')?.ownerId, (await server.accounts.getUser('carol')).id)
})

test.serial('with the main server stopped, and after the node\'s own restart, the local node still plays for its owner alone', async t => {
  const { server, alice, dir } = t.context
  const laptop = running(t, 'laptop')
  const owned = await playUrl(t, alice, 'laptop')
  const bobs = await server.streamUrls.create({ userId: (await server.accounts.getUser('bob')).id, mediaId: t.context.id })
  // what the node needs of the main server for this media (its master playlist) is cached by playing it once
  t.true((await play(owned.body.url ?? '')).every(f => f.status === 200))
  await server.stop()
  await servesOnlyTheOwner(t, laptop.url, owned.body.url ?? '', bobs.token, 'main server stopped')

  await laptop.stop()
  t.context.running.splice(t.context.running.indexOf(laptop), 1)
  // everything but the data folder is remembered in node.json: mode and owner too
  const restarted = await startNode({ dataDir: join(dir, 'laptop'), logLevel: 'silent', listen: new URL(laptop.url).host, minBackoffMs: 200, maxBackoffMs: 1000 })
  t.context.running.push(restarted)
  t.not((await restarted.firstAttempt()).state, 'registered', 'the main server is really down')
  t.is(restarted.mode, 'local')
  await servesOnlyTheOwner(t, restarted.url, owned.body.url ?? '', bobs.token, 'node restarted')
})
