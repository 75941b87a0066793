import { join } from 'node:path'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { createStreamTokenSigner, NODE_CREDENTIAL_HEADER } from '../../core/access/index.ts'
import { readSwarmKey } from '../../core/config/index.ts'
import { streamDag } from '../../core/edge/pin-stream.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { cidcast } from '../helpers/spawn.ts'
import { play, refused, withToken } from '../helpers/stream-url.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Signed stream URLs end to end (issue 11, items 4 and 5): a real main server signs play URLs, real CDN nodes get
 * its public keys over the control protocol and check every playlist and segment request offline, also with the
 * main server stopped and after their own restart; a rotated key reaches them at once; nodes fetch pins from each
 * other with their node credential. Serial: one main server for the file, stopped by the last test.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  server: RunningServer
  id: string
  /** The 360p rendition, complete on the main server. */
  root: string
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>
/** Longer than any wait here: a key that arrives promptly came with a nudge, not a scheduled heartbeat. */
const SLOW_HEARTBEAT_SECONDS = 30
const OTHER_MEDIA = 'fedcba9876543210'

test.before(async t => {
  const dir = await tempDir('cidcast-stream-access-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: SLOW_HEARTBEAT_SECONDS, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  // cidcast keys rotate is an admin's act: the CLI runs below carry this admin token
  await adminToken(server)
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  t.context = { dir: dir.path, remove: dir.remove, server, id: media.id, root, running: [] }
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

async function node (t: ExecutionContext<Context>, name: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  return await registeredNode(t.context, t.context.server.url, name, options)
}

/** A running node of an earlier test. */
function running (t: ExecutionContext<Context>, name: string): RunningNode {
  const found = t.context.running.find(part => (part as RunningNode).name === name) as RunningNode | undefined
  if (found == null) throw new Error(`no node ${name}: the tests of this file run in order`)
  return found
}

/** `token` with one byte of its signature flipped. */
function flipped (token: string): string {
  const bytes = Buffer.from(token, 'base64url')
  bytes[bytes.length - 10] ^= 0x01
  return bytes.toString('base64url')
}

test.serial('a node plays a media through a signed URL: every playlist and segment answers 200 and carries the token', async t => {
  const { server, id } = t.context
  const alpha = await node(t, 'alpha')
  const played = await server.streamUrls.create({ userId: 'viewer', mediaId: id, node: 'alpha', ttlSeconds: 600 })
  t.true(played.url.startsWith(`${alpha.url.replace(/\/$/, '')}/media/${id}/master.m3u8?token=`))
  const fetched = await play(played.url)
  t.true(fetched.some(f => f.url.includes('/360p/index.m3u8')), 'the variant playlists')
  t.true(fetched.some(f => f.url.includes('/init.mp4')), 'the init segments')
  t.true(fetched.filter(f => f.url.includes('.m4s')).length >= 3, 'the segments')
  for (const f of fetched) {
    t.is(f.status, 200, f.url)
    t.is(f.token, played.token, `the token was carried to ${new URL(f.url).pathname}`)
  }
  // the rendition's root under /ipfs is covered too; a block CID on its own is not
  t.is((await fetch(withToken(`${alpha.url}/ipfs/${t.context.root}/init.mp4`, played.token))).status, 200)
  const init = (await fetch(withToken(`${server.url}/ipfs/${t.context.root}/init.mp4`, played.token))).headers.get('etag')?.replaceAll('"', '')
  t.like(await refused(withToken(`${alpha.url}/ipfs/${init ?? ''}?format=raw`, played.token)), { status: 403, error: 'TokenScopeError' })
})

test.serial('nodes fetch pins from each other\'s gateways with their node credential; without one a gateway refuses', async t => {
  const { root } = t.context
  const alpha = running(t, 'alpha')
  await alpha.pin(CID.parse(root))
  const beta = await node(t, 'beta')
  t.like(await refused(`${alpha.url}/ipfs/${root}?format=raw`), { status: 401, error: 'TokenMissingError' }, 'anonymous: refused')
  const forged = await fetch(`${alpha.url}/ipfs/${root}?format=raw`, { headers: { [NODE_CREDENTIAL_HEADER]: 'AQ' + 'A'.repeat(150) } })
  t.is(forged.status, 403)
  const fetched = await beta.pinner.pin(CID.parse(root), { providers: [{ peerId: alpha.peer.libp2p.peerId.toString(), addrs: alpha.peer.libp2p.getMultiaddrs().map(String), gateway: alpha.url }] })
  t.is(fetched.blocksDone, fetched.blocksTotal ?? -1)
  t.true(fetched.bytesFromGateways > 0 && fetched.bytesFromGateways === fetched.bytesFetched, `every block from alpha's gateway (${fetched.bytesFromGateways} of ${fetched.bytesFetched} bytes)`)
})

test.serial('cidcast keys rotate: the new key reaches the nodes at once, and a token of the old key keeps working until it expires', async t => {
  const { server, id } = t.context
  const alpha = running(t, 'alpha')
  const before = await server.streamUrls.create({ userId: 'viewer', mediaId: id, node: 'alpha', ttlSeconds: 600 })
  const oldKey = server.streamKeys.current().id
  const started = Date.now()
  const run = await cidcast('keys', 'rotate', '--server', server.url)
  t.is(run.code, 0, run.stderr)
  const newKey = server.streamKeys.current().id
  t.not(newKey, oldKey)
  t.regex(run.stdout, new RegExp(`^rotated: new key ${newKey}\n`))
  t.regex(run.stdout, new RegExp(`key ${oldKey} verifies the tokens it signed until \\d{4}-`))
  t.regex(run.stdout, /2 online nodes asked to fetch the new key now/)
  t.false(run.stdout.includes(server.streamKeys.publicKeys()[0].publicKey), 'ids only, not even public keys')
  await waitFor(() => alpha.streamKeys.list().some(k => k.id === newKey), 10_000, 'the new key on alpha')
  t.true(Date.now() - started < SLOW_HEARTBEAT_SECONDS * 1000 / 2, 'it did not wait for a scheduled heartbeat')
  const old = alpha.streamKeys.list().find(k => k.id === oldKey)
  t.truthy(old?.expiresAt, 'the old key is kept, with the time it stops')
  const after = await server.streamUrls.create({ userId: 'viewer', mediaId: id, node: 'alpha', ttlSeconds: 600 })
  t.not(after.token.slice(0, 12), before.token.slice(0, 12), 'signed with the new key')
  for (const url of [before.url, after.url]) t.true((await play(url)).every(f => f.status === 200), url)
})

test.serial('a node pinning inside the private network gets the block stream with its credential, from a node and from the main server; a peer without one is refused', async t => {
  const { root, server } = t.context
  const alpha = running(t, 'alpha')
  const gamma = await node(t, 'gamma', { pinFrom: 'p2p' })
  const fromNode = await gamma.pinner.pin(CID.parse(root), { providers: [{ peerId: alpha.peer.libp2p.peerId.toString(), addrs: alpha.peer.libp2p.getMultiaddrs().map(String), gateway: alpha.url }] })
  t.true(fromNode.bytesFetched > 0 && fromNode.bytesFromStream === fromNode.bytesFetched, `every block over alpha's block stream (${fromNode.bytesFromStream} of ${fromNode.bytesFetched} bytes)`)
  await gamma.pinner.unpin(CID.parse(root))
  const fromServer = await gamma.pinner.pin(CID.parse(root), { providers: [{ peerId: server.peer.libp2p.peerId.toString(), addrs: server.peer.libp2p.getMultiaddrs().map(String) }] })
  t.true(fromServer.bytesFetched > 0 && fromServer.bytesFromStream === fromServer.bytesFetched, `every block over the main server's block stream (${fromServer.bytesFromStream} of ${fromServer.bytesFetched} bytes)`)

  // a peer of the private network that is no registered node: no credential, no blocks
  const stranger = await createPeer({ logger: silentLogger() }, { swarmKey: await readSwarmKey(join(t.context.dir, 'server', 'swarm.key')) })
  t.context.running.push({ stop: async () => { await stranger.stop() } })
  for (const holder of [alpha.peer, server.peer]) {
    await stranger.libp2p.dial(holder.libp2p.getMultiaddrs())
    const streamed = await streamDag({ libp2p: stranger.libp2p, blockstore: stranger.blockstore, getCodec: stranger.getCodec, logger: silentLogger() }, CID.parse(root), [holder.libp2p.peerId])
    t.false(streamed.complete)
    t.regex(streamed.attempts[0], /refused: ForbiddenError: media are not public here: a node credential is needed/)
  }
})

test.serial('with the main server stopped a node still plays a signed URL and refuses it without a token, bent, for another media or expired; after its own restart too', async t => {
  const { server, id, dir } = t.context
  const alpha = running(t, 'alpha')
  const played = await server.streamUrls.create({ userId: 'viewer', mediaId: id, node: 'alpha', ttlSeconds: 600 })
  // what the node needs of the main server for this media (its master playlist) is cached by playing it once
  t.true((await play(played.url)).every(f => f.status === 200))
  const signer = createStreamTokenSigner({ keys: server.streamKeys })
  const otherMedia = signer.sign({ userId: 'viewer', mediaId: OTHER_MEDIA }, { ttlSeconds: 600 }).token
  // signed two hours ago for one hour: expired by far more than the minute of clock skew allowed
  const expired = signer.sign({ userId: 'viewer', mediaId: id }, { ttlSeconds: 3600, now: Date.now() - 2 * 3600_000 }).token
  // stopping twice is harmless: the file's last hook stops it again
  await server.stop()

  const check = async (base: string, label: string): Promise<void> => {
    const master = `${base}/media/${id}/master.m3u8`
    const fetched = await play(withToken(master, played.token))
    t.true(fetched.length > 3 && fetched.every(f => f.status === 200), `${label}: ${JSON.stringify(fetched.filter(f => f.status !== 200))}`)
    t.like(await refused(master), { status: 401, error: 'TokenMissingError' }, `${label}: no token`)
    t.like(await refused(withToken(master, flipped(played.token))), { status: 403, error: 'TokenInvalidError' }, `${label}: a flipped byte`)
    t.like(await refused(withToken(master, otherMedia)), { status: 403, error: 'TokenScopeError' }, `${label}: another media's`)
    const late = await refused(withToken(master, expired))
    t.like(late, { status: 403, error: 'TokenExpiredError' }, `${label}: expired`)
    t.regex(late.message ?? '', /expired/)
  }
  await check(alpha.url, 'main server stopped')

  // the node restarts while the main server is still down: its key file is all it needs
  await alpha.stop()
  // in place: a test's context is a copy of the hook's, but the list is the same one the last hook stops
  t.context.running.splice(t.context.running.indexOf(alpha), 1)
  const restarted = await startNode({ dataDir: join(dir, 'alpha'), logLevel: 'silent', listen: new URL(alpha.url).host, minBackoffMs: 200, maxBackoffMs: 1000 })
  t.context.running.push(restarted)
  t.not((await restarted.firstAttempt()).state, 'registered', 'the main server is really down')
  t.true(restarted.streamKeys.list().length >= 2, 'both keys came back from disk')
  await check(restarted.url, 'node restarted')
})
