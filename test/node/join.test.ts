import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import Database from 'better-sqlite3'
import { encodeJoinToken } from '../../core/access/index.ts'
import { generateSwarmKey, writeSwarmKey } from '../../core/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { startNode } from '../../node/cdn-node.ts'
import { joinNetwork } from '../../node/join.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../helpers/auth.ts'
import { cidcast } from '../helpers/spawn.ts'
import { withRunningParts } from '../helpers/running.ts'
import { waitFor } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { RunningContext } from '../helpers/running.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Joining with one token (issue 14, item 2): an admin invites a node with `cidcast nodes invite`, the node joins
 * with the token alone (no swarm.key copied, no flags), registers with what the admin chose, and the invitation is
 * spent; expired, spent, revoked and malformed tokens are refused saying which, and nothing is written for a
 * malformed one.
 */

type Context = RunningContext

const test = anyTest as TestFn<Context>
withRunningParts(test, 'cidcast-join-')

async function server (t: ExecutionContext<Context>): Promise<RunningServer> {
  const started = await startServer({ dataDir: join(t.context.dir, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context.running.push(started)
  await adminToken(started)
  return started
}

/** `cidcast nodes invite ARGS` against `main`: the token it printed. */
async function invite (t: ExecutionContext<Context>, main: RunningServer, ...args: string[]): Promise<string> {
  const run = await cidcast('nodes', 'invite', '--server', main.url, ...args)
  t.is(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n')
  t.is(lines.length, 1, 'one line')
  t.regex(run.stderr, /invitation [0-9a-f]{16}/)
  return lines[0]
}

/** Expects `joining` to fail with the error `name` and a message matching `message`. */
async function refused (t: ExecutionContext<Context>, joining: Promise<unknown>, name: string, message: RegExp): Promise<void> {
  const err = await t.throwsAsync(joining)
  t.is(err?.name, name)
  t.regex(err?.message ?? '', message)
}

test.serial('a node joins with the token alone: registered with the invited name, mode and owner, and the invitation is spent', async t => {
  const main = await server(t)
  await viewerToken(main, 'carol')
  const token = await invite(t, main, '--name', 'Carol\'s attic', '--mode', 'local', '--owner', 'carol', '--expires', '2h')
  t.true(token.startsWith('ccj_'))
  const swarmKey = await readFile(join(t.context.dir, 'server', 'swarm.key'), 'utf8')
  t.false(token.includes(swarmKey.trim().split('\n')[2]), 'the key is not in the token in clear hex')

  const data = join(t.context.dir, 'node')
  const joined = await joinNetwork(token, data, silentLogger())
  t.like(joined, { server: main.url, name: 'Carol\'s attic', mode: 'local', owner: 'carol' })
  t.is(await readFile(join(data, 'swarm.key'), 'utf8'), swarmKey, 'the data folder has the network\'s key')
  const node = await startNode({ dataDir: data, server: joined.server, name: joined.name ?? undefined, mode: joined.mode, owner: joined.owner ?? undefined, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 500, heartbeatSeconds: 1 })
  t.context.running.push(node)
  await waitFor(() => node.status().state === 'registered', 20_000, 'registration')
  const listed = (await main.registry.list()).find(n => n.peerId === joined.peerId)
  t.like(listed, { name: 'Carol\'s attic', mode: 'local' })
  t.is(listed?.ownerId, (await main.accounts.listUsers()).find(u => u.name === 'carol')?.id)

  const list = await cidcast('nodes', 'invitations', '--server', main.url)
  t.is(list.code, 0, list.stderr)
  t.regex(list.stdout, new RegExp(`^[0-9a-f]{16}\\tspent\\tlocal\\tCarol's attic\\tcarol\\t\\S+\\t${joined.peerId}$`, 'm'))
  t.false(list.stdout.includes(token.slice(4, 40)), 'listings never show the token')

  // joining again from the same folder is harmless; another node cannot use the token
  t.like(await joinNetwork(token, data, silentLogger()), { peerId: joined.peerId })
  const other = await t.throwsAsync(joinNetwork(token, join(t.context.dir, 'other'), silentLogger()))
  t.is(other?.name, 'InvitationSpentError')
  t.regex(other?.message ?? '', /used by another node/)
})

test.serial('expired, revoked and malformed tokens are refused saying which; a malformed one writes nothing', async t => {
  const main = await server(t)
  const revoked = await invite(t, main)
  const id = (await (await fetch(`${main.url}/api/v1/nodes/invitations`, { headers: bearer(await adminToken(main)) })).json() as { items: Array<{ id: string }> }).items[0].id
  const uninvite = await cidcast('nodes', 'uninvite', id, '--server', main.url)
  t.is(uninvite.code, 0, uninvite.stderr)
  t.is(uninvite.stdout, `${id}\trevoked\n`)
  await refused(t, joinNetwork(revoked, join(t.context.dir, 'a'), silentLogger()), 'InvitationRevokedError', /revoked on .*ask for a new one/)

  // an invitation past its expiry: its row aged in the catalog's own file, as a day would
  const expired = await invite(t, main, '--expires', '1m')
  const db = new Database(join(t.context.dir, 'server', 'catalog.sqlite'), { timeout: 10_000 })
  db.prepare('UPDATE node_invitations SET expires_at = ? WHERE spent_at IS NULL AND revoked_at IS NULL').run(Date.now() - 1000)
  db.close()
  await refused(t, joinNetwork(expired, join(t.context.dir, 'b'), silentLogger()), 'InvitationExpiredError', /expired on .*ask for a new one/)

  // a token cut short, one of another kind, one from another server: one line each, and no folder for the first two
  const cut = join(t.context.dir, 'cut')
  await refused(t, joinNetwork(expired.slice(0, 60), cut, silentLogger()), 'JoinTokenInvalidError', /cut short or damaged/)
  await refused(t, joinNetwork('cca_0123456789abcdef', cut, silentLogger()), 'JoinTokenInvalidError', /starts with "ccj_"/)
  await t.throwsAsync(stat(cut), { code: 'ENOENT' })
  const foreign = encodeJoinToken({ url: main.url, addresses: [], swarmKey: 'ab'.repeat(32), id: '0123456789abcdef', secret: 'x'.repeat(43) })
  await refused(t, joinNetwork(foreign, join(t.context.dir, 'c'), silentLogger()), 'InvitationNotFoundError', /another main server/)

  t.deepEqual(await readdir(join(t.context.dir, 'c')), ['identity.key'], 'a refused join leaves no swarm key in the way')

  // a folder of another network is not taken over
  const other = join(t.context.dir, 'other-network')
  await writeSwarmKey(join(other, 'swarm.key'), generateSwarmKey())
  await refused(t, joinNetwork(await invite(t, main), other, silentLogger()), 'DataFolderTakenError', /another private network/)
})
