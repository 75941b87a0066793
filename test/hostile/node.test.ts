import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { fixture } from '../../fixtures/media.ts'
import { createNodeCredentialIssuer, openSigningKeyRing } from '../../core/access/index.ts'
import { systemClock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { viewerToken } from '../helpers/auth.ts'
import { catalogProbe, hostileTests, nodeSnapshot, runCase, send, serverSnapshot } from '../helpers/hostile.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { startTestServer } from '../helpers/server.ts'
import { rootToken, streamToken } from '../helpers/stream-url.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { CatalogProbe, HostileTarget, HttpCase } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile input to a CDN node's HTTP face: `/media` and `/ipfs` under stream tokens and node credentials (bent,
 * misplaced, repeated, for something else), paths that climb, CIDs it must not serve, ranges and formats it cannot
 * honour, methods content routes do not have; its `/api/v1` proxy (writes it never passes on, the caller's own
 * credential and nothing more, paths out of `/api/v1`, hop-by-hop headers, bodies too big); its loopback-only
 * routes asked by headers that pretend to be loopback. One main server and one registered node (in process) that
 * pins one small media; each case leaves the main server's catalog and blocks, and the node's pins and blocks, as
 * they were.
 */

interface Context {
  main: TestServer
  node: RunningNode
  probe: CatalogProbe
  target: HostileTarget
  /** The same node reached through a non-loopback address of this machine, if it has one. */
  remote?: HostileTarget
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>
const NODE_NAME = 'hostile-node'
const VIEWER_PASSWORD = 'viewer-password'
/** No media has this id: a token for it covers none of the node's. */
const OTHER_MEDIA = 'fedcba9876543210'

/** An IPv4 address of this machine that is not loopback: a socket from it is no loopback caller. */
function externalAddress (): string | undefined {
  return Object.values(networkInterfaces()).flat().find(i => i != null && !i.internal && i.family === 'IPv4')?.address
}

/** `token` with one byte of its signature flipped. */
function flipped (token: string): string {
  const bytes = Buffer.from(token, 'base64url')
  bytes[bytes.length - 10] ^= 0x01
  return bytes.toString('base64url')
}

test.before(async t => {
  const main = await startTestServer()
  const running: Context['running'] = []
  // set at once, so that the last hook stops what started even when a later step of this one fails
  t.context = { main, running } as unknown as Context
  const media = await main.server.addMedia(await fixture('odd-854x480-6s'))
  await main.server.transcoder.complete(await main.server.library.job(media.id, '360p'))
  const root = (await main.server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  // on every address, so that a socket from this machine's other address can show what "loopback only" means
  const node = await registeredNode({ dir: main.dir, running }, main.server.url, NODE_NAME, { swarmKeyFile: join(main.dir, 'data', 'swarm.key'), listen: '0.0.0.0:0' })
  await node.pin(CID.parse(root))
  const port = new URL(node.url).port
  const token = await streamToken(main.server, media.id, { userId: 'viewer' })
  const viewer = await viewerToken(main.server, 'hostile-viewer')
  const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'hostile-viewer', password: VIEWER_PASSWORD }) })
  const cookie = login.headers.getSetCookie().find(c => c.startsWith('cidcast_session='))?.split(';')[0]
  if (cookie == null) throw new Error(`logging in through the node answered ${login.status}`)
  const peerId = node.peer.libp2p.peerId.toString()
  const issue = (clock = systemClock, keys = main.server.streamKeys): string => createNodeCredentialIssuer({ keys, clock }).issue(peerId).credential
  const foreignKeys = await openSigningKeyRing({ logger: silentLogger() }, { path: join(main.dir, 'foreign-stream-keys.json') })
  const init = await fetch(`${main.server.url}/ipfs/${root}/init.mp4?token=${encodeURIComponent(token)}`)
  const block = init.headers.get('etag')?.replaceAll('"', '').replace(/\.raw$/, '')
  await init.body?.cancel()
  if (block == null) throw new Error('the init segment has no Etag')
  const missing = CID.createV1(0x55, await sha256.digest(Buffer.from('never stored'))).toString()
  const vars = {
    id: media.id,
    root,
    block,
    token,
    flipped: flipped(token),
    truncated: token.slice(0, -12),
    otherMedia: rootToken(main.server, [], OTHER_MEDIA),
    otherRoot: rootToken(main.server, [missing], OTHER_MEDIA),
    cookie,
    identityHtml: CID.createV1(0x55, identity.digest(Buffer.from('<script>alert(1)</script>'))).toString(),
    credential: issue(),
    expiredCredential: issue({ ...systemClock, now: () => Date.now() - 2 * 3600_000 }),
    foreignCredential: issue(systemClock, foreignKeys)
  }
  // played once, so that what the node keeps of the master playlist is kept before the first snapshot
  const warm = await fetch(`http://127.0.0.1:${port}/media/${media.id}/master.m3u8?token=${encodeURIComponent(token)}`)
  if (warm.status !== 200) throw new Error(`the node answered the master playlist ${warm.status}`)
  await warm.text()
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const mainState = serverSnapshot(join(main.dir, 'data'), probe)
  const nodeState = nodeSnapshot(join(main.dir, NODE_NAME), node.peer.pins)
  const target: HostileTarget = {
    url: `http://127.0.0.1:${port}`,
    tokens: { admin: main.token, viewer },
    snapshot: async () => ({ main: await mainState(), node: await nodeState() }),
    secrets: [main.dir, vars.credential],
    vars
  }
  const external = externalAddress()
  t.context = { main, node, probe, running, target, remote: external == null ? undefined : { ...target, url: `http://${external}:${port}` } }
})

test.after.always(async t => {
  t.context.probe?.close()
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.main?.stop()
})

test.serial('the node pins the media\'s rendition and holds its blocks: the state every case compares', async t => {
  const state = await t.context.target.snapshot() as { node: { pins: string[], blocks: { count: number } } }
  t.true(state.node.pins.includes(`${String(t.context.target.vars?.root)} Infinity`), state.node.pins.join(', '))
  t.true(state.node.blocks.count > 3, `${state.node.blocks.count} blocks`)
})

const playlist: HttpCase['check'] = (t, res) => {
  t.regex(res.text, /^#EXTM3U/)
  t.true(res.text.includes('token='), 'the token is carried to the children')
}

// stream tokens: who may read `/media` and `/ipfs` (as nobody: an API token in the bearer header is no stream token)
hostileTests(test, [
  { name: 'the master playlist with its token (the control case)', as: 'none', path: '/media/{id}/master.m3u8?token={token}', status: 200, json: false, check: playlist },
  { name: 'a master playlist with no token', as: 'none', path: '/media/{id}/master.m3u8', status: 401, error: 'TokenMissingError' },
  { name: 'a token with a flipped byte', as: 'none', path: '/media/{id}/master.m3u8?token={flipped}', status: 403, error: 'TokenInvalidError' },
  { name: 'a truncated token', as: 'none', path: '/media/{id}/360p/index.m3u8?token={truncated}', status: 403, error: 'TokenInvalidError' },
  { name: 'a token of garbage', as: 'none', path: '/media/{id}/360p/init.mp4?token=%3Cscript%3E', status: 403, error: 'TokenInvalidError' },
  { name: 'a token of 6,000 characters', as: 'none', path: `/media/{id}/360p/0.m4s?token=${'A'.repeat(6000)}`, status: 403, error: 'TokenInvalidError' },
  { name: 'a token that is not URL-encoded text', as: 'none', path: '/media/{id}/master.m3u8?token=%E0%A4%A', status: 403, error: 'TokenInvalidError' },
  { name: 'a token of another media', as: 'none', path: '/media/{id}/360p/0.m4s?token={otherMedia}', status: 403, error: 'TokenScopeError' },
  { name: 'a token of another root', as: 'none', path: '/ipfs/{root}/init.mp4?token={otherRoot}', status: 403, error: 'TokenScopeError' },
  { name: 'the token twice in the query', as: 'none', path: '/media/{id}/master.m3u8?token={token}&token={token}', status: 403, error: 'TokenInvalidError' },
  { name: 'a good token in the query and garbage as bearer (the query is judged)', as: 'none', path: '/media/{id}/360p/init.mp4?token={token}', headers: { Authorization: 'Bearer garbage-bearer-token' }, status: 200, json: false },
  { name: 'garbage in the query and a good token as bearer (the query is judged)', as: 'none', path: '/media/{id}/360p/init.mp4?token=garbage', headers: { Authorization: 'Bearer {token}' }, status: 403, error: 'TokenInvalidError' },
  { name: 'a bare block CID under the media token', as: 'none', path: '/ipfs/{block}?format=raw&token={token}', status: 403, error: 'TokenScopeError' },
  { name: 'the root under the media token (the control case)', as: 'none', path: '/ipfs/{root}/init.mp4?token={token}', status: 200, json: false }
], c => c.target)

// node credentials (`X-Cidcast-Node`), as another node would send them
hostileTests(test, [
  { name: 'a node credential of garbage', as: 'none', path: '/ipfs/{root}?format=raw', headers: { 'X-Cidcast-Node': 'AQ' + 'A'.repeat(150) }, status: 403, error: 'TokenInvalidError' },
  { name: 'an expired node credential', as: 'none', path: '/ipfs/{root}?format=raw', headers: { 'X-Cidcast-Node': '{expiredCredential}' }, status: 403, error: 'TokenExpiredError' },
  { name: 'a node credential signed by another key', as: 'none', path: '/ipfs/{block}?format=raw', headers: { 'X-Cidcast-Node': '{foreignCredential}' }, status: 403, error: 'TokenInvalidError' },
  { name: 'a node credential of garbage named hop-by-hop', as: 'none', path: '/ipfs/{root}?format=raw', headers: { 'X-Cidcast-Node': 'garbage', Connection: 'X-Cidcast-Node' }, status: 403, error: 'TokenInvalidError' },
  { name: 'a CID that is no CID, with a node credential', as: 'none', path: '/ipfs/not-a-cid', headers: { 'X-Cidcast-Node': '{credential}' }, status: 400, error: 'InvalidCIDError' },
  { name: 'the empty identity CID, with a node credential', as: 'none', path: '/ipfs/bafkqaaa', headers: { 'X-Cidcast-Node': '{credential}' }, status: 400, error: 'InvalidCIDError' },
  { name: 'an identity CID holding HTML, with a node credential', as: 'none', path: '/ipfs/{identityHtml}', headers: { 'X-Cidcast-Node': '{credential}' }, status: 400, error: 'InvalidCIDError' },
  { name: 'the empty identity CID under the media token', as: 'none', path: '/ipfs/bafkqaaa?token={token}', status: 403, error: 'TokenScopeError' },
  { name: 'a CID of 4,000 characters', as: 'none', path: `/ipfs/b${'a'.repeat(4000)}`, headers: { 'X-Cidcast-Node': '{credential}' }, status: 400, error: 'InvalidCIDError' }
], c => c.target)

// paths that climb, ranges, formats, query strings and methods, under a good token
hostileTests(test, [
  { name: 'a media id that climbs', as: 'none', path: '/media/..%2f..%2fblocks/master.m3u8?token={token}', status: 403, error: 'TokenScopeError' },
  { name: 'a profile that climbs', as: 'none', path: '/media/{id}/..%2f..%2fswarm.key/index.m3u8?token={token}', status: 404, error: 'ProfileNotFoundError' },
  { name: 'a segment name that climbs', as: 'none', path: '/media/{id}/360p/..%2f..%2fswarm.key?token={token}', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a segment name of dot-dot', as: 'none', path: '/media/{id}/360p/%2e%2e?token={token}', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a segment path with raw dot-dot', as: 'none', path: '/media/{id}/360p/../../../swarm.key?token={token}', status: 404, error: 'NotFoundError' },
  { name: 'an /ipfs path that climbs', as: 'none', path: '/ipfs/{root}/%2e%2e/%2e%2e/swarm.key?token={token}', status: 400, error: 'InvalidPathError' },
  { name: 'a range past the end', as: 'none', path: '/media/{id}/360p/init.mp4?token={token}', headers: { Range: 'bytes=999999999-' }, status: 416, error: 'RangeNotSatisfiableError' },
  { name: 'an empty suffix range', as: 'none', path: '/media/{id}/360p/0.m4s?token={token}', headers: { Range: 'bytes=-0' }, status: 416, error: 'RangeNotSatisfiableError' },
  { name: 'an inverted range (ignored)', as: 'none', path: '/media/{id}/360p/init.mp4?token={token}', headers: { Range: 'bytes=100-50' }, status: 200, json: false },
  { name: '500 overlapping ranges (ignored)', as: 'none', path: '/ipfs/{root}/0.m4s?token={token}', headers: { Range: `bytes=${Array.from({ length: 500 }, () => '0-65535').join(',')}` }, status: 200, json: false },
  { name: 'a range on a playlist under a token (the token-carrying copy is whole)', as: 'none', path: '/media/{id}/360p/index.m3u8?token={token}', headers: { Range: 'bytes=0-3' }, status: 200, json: false },
  { name: 'a bogus format', as: 'none', path: '/ipfs/{root}?format=exe&token={token}', status: 400, error: 'InvalidRequestError' },
  { name: 'a bogus dag-scope', as: 'none', path: '/ipfs/{root}?format=car&dag-scope=everything&token={token}', status: 400 },
  { name: 'a query string of 12 kB', as: 'none', path: `/media/{id}/master.m3u8?token={token}&x=${'x'.repeat(12_000)}`, status: 200, json: false },
  { name: 'a query string of 40 kB', as: 'none', path: `/media/{id}/master.m3u8?token={token}&x=${'x'.repeat(40_000)}`, status: 431, error: 'HeadersTooLargeError' },
  { name: 'a PUT of a segment', as: 'none', method: 'PUT', path: '/media/{id}/360p/0.m4s?token={token}', body: 'evil', headers: { 'Content-Type': 'video/mp4' }, status: 405, error: 'MethodNotAllowedError' },
  { name: 'a DELETE of the root', as: 'none', method: 'DELETE', path: '/ipfs/{root}?token={token}', status: 405, error: 'MethodNotAllowedError' },
  { name: 'a POST to the gateway', as: 'none', method: 'POST', path: '/ipfs/{root}?token={token}', body: '{}', status: 405, error: 'MethodNotAllowedError' },
  { name: 'a DELETE with no token', as: 'none', method: 'DELETE', path: '/media/{id}/master.m3u8', status: 401, error: 'TokenMissingError' },
  { name: 'a HEAD with no token', as: 'none', method: 'HEAD', path: '/media/{id}/master.m3u8', status: 401, json: false },
  { name: 'an OPTIONS of a segment', as: 'none', method: 'OPTIONS', path: '/media/{id}/360p/0.m4s', status: 200, json: false, check: (t, res) => { t.is(res.headers.allow, 'HEAD, GET') } }
], c => c.target)

// the `/api/v1` proxy: the caller's own credential, the writes it passes on, and nothing out of `/api/v1`
hostileTests(test, [
  { name: 'adding media by a server path through the node', method: 'POST', path: '/api/v1/media', body: JSON.stringify({ path: '/etc/hostname' }), status: 405, error: 'MethodNotAllowedError' },
  { name: 'a metadata edit through the node', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: JSON.stringify({ title: 'owned' }), status: 405, error: 'MethodNotAllowedError' },
  { name: 'a user made through the node', method: 'POST', path: '/api/v1/users', body: JSON.stringify({ name: 'mallory', role: 'admin' }), status: 405, error: 'MethodNotAllowedError' },
  { name: 'a user deleted through the node', method: 'DELETE', path: '/api/v1/users/hostile-viewer', status: 405, error: 'MethodNotAllowedError' },
  { name: 'a node revoked through the node', method: 'POST', path: '/api/v1/nodes/{id}/revoke', status: 405, error: 'MethodNotAllowedError' },
  { name: 'every node (?all=1) as nobody', as: 'none', path: '/api/v1/nodes?all=1', status: 401, error: 'AuthenticationRequiredError' },
  { name: 'every node (?all=1) as a viewer', as: 'viewer', path: '/api/v1/nodes?all=1', status: 403, error: 'PermissionDeniedError' },
  { name: 'every node (?all=1) with a node credential (never passed on)', as: 'none', path: '/api/v1/nodes?all=1', headers: { 'X-Cidcast-Node': '{credential}' }, status: 401, error: 'AuthenticationRequiredError' },
  { name: 'every node (?all=1) as a viewer naming its credential hop-by-hop', as: 'viewer', path: '/api/v1/nodes?all=1', headers: { Connection: 'Authorization, X-Cidcast-Node', 'X-Cidcast-Node': '{credential}' }, status: 403, error: 'PermissionDeniedError' },
  { name: 'a login body that is not JSON', as: 'none', method: 'POST', path: '/api/v1/auth/login', body: '{"username": admin', status: 400, error: 'InvalidRequestError' },
  { name: 'a login body as a form', as: 'none', method: 'POST', path: '/api/v1/auth/login', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=x', status: 415 },
  { name: 'a login body of 200 kB', as: 'none', method: 'POST', path: '/api/v1/auth/login', body: JSON.stringify({ username: 'admin', password: 'p'.repeat(200_000) }), status: 413, error: 'BodyTooLargeError' },
  { name: 'a cookie write without Origin', as: 'none', method: 'PUT', path: '/api/v1/media/{id}/progress', headers: { Cookie: '{cookie}' }, body: JSON.stringify({ positionSeconds: 1 }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a cookie write from another site', as: 'none', method: 'POST', path: '/api/v1/replications', headers: { Cookie: '{cookie}', Origin: 'https://evil.example' }, body: JSON.stringify({ media: '{id}', node: NODE_NAME }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a path of 10,000 characters', path: `/api/v1/${'a'.repeat(10_000)}`, status: 404 },
  { name: 'a path out of /api/v1 with dot-dot', path: '/api/v1/../../pins', status: 404, error: 'NotFoundError' },
  { name: 'a path out of /api/v1 with encoded dot-dot', path: '/api/v1/%2e%2e/%2e%2e/pins', status: 404, error: 'NotFoundError' },
  { name: 'a path out of /api/v1 with an encoded slash', path: '/api/v1/media%2f..%2f..%2fpins', status: 404, error: 'NotFoundError' },
  { name: 'a body sent both chunked and with a length', method: 'POST', path: '/api/v1/auth/login', as: 'none', headers: { 'Transfer-Encoding': 'chunked' }, body: '5\r\n{"a":\r\n0\r\n\r\n', status: 400, error: 'InvalidRequestError' },
  { name: 'a body in a transfer coding nobody asked for', method: 'POST', path: '/api/v1/auth/login', as: 'none', headers: { 'Transfer-Encoding': 'gzip' }, body: '{}', status: 400, error: 'InvalidRequestError' }
], c => c.target)

// the loopback-only routes: judged by the socket; forwarding headers neither narrow nor widen
hostileTests(test, [
  { name: 'the pins from loopback claiming to be forwarded from afar', as: 'none', path: '/pins', headers: { 'X-Forwarded-For': '203.0.113.9', Forwarded: 'for=203.0.113.9' }, status: 200, json: false, check: (t, res) => { t.true(Array.isArray(res.json?.items)) } }
], c => c.target)

test.serial('the loopback-only routes refuse a socket from another address, whatever forwarding headers claim', async t => {
  const remote = t.context.remote
  // a machine with loopback alone cannot make a non-loopback socket: then only the case above is possible
  if (remote == null) {
    t.log('no address besides loopback: the remote cases cannot run here')
    t.pass()
    return
  }
  const pretend = { 'X-Forwarded-For': '127.0.0.1', Forwarded: 'for=127.0.0.1;proto=http', 'X-Real-IP': '::1' }
  await runCase(t, remote, { name: 'the pins asked from afar, pretending to be loopback', as: 'none', path: '/pins', headers: pretend, status: 403, error: 'PermissionDeniedError' })
  await runCase(t, remote, { name: 'a verification asked from afar, pretending to be loopback', as: 'none', method: 'POST', path: '/pins/verify?repair=1', headers: pretend, status: 403, error: 'PermissionDeniedError' })
  await runCase(t, remote, { name: 'the metrics asked from afar, pretending to be loopback', as: 'none', path: '/metrics', headers: { ...pretend, Host: '127.0.0.1' }, status: 403, error: 'PermissionDeniedError' })
  // and the same socket still gets what is public: it is the route, not the address, that is refused
  t.is((await send(remote, { path: '/healthz', as: 'none' })).status, 200)
})
