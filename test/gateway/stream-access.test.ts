import { Readable } from 'node:stream'
import Router from '@koa/router'
import anyTest from 'ava'
import Koa from 'koa'
import { createNodeCredentialIssuer, createNodeCredentialVerifier, NODE_CREDENTIAL_HEADER } from '../../core/access/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { streamAccess } from '../../gateway/access/stream-access.ts'
import { PLAYLIST_TYPE } from '../../gateway/media-http.ts'
import { errors } from '../../gateway/middleware/errors.ts'
import { listenHttp } from '../../node/http-listener.ts'
import { MEDIA, rootOf, tokenSetup, USER } from '../core/access/helpers.ts'
import type { StreamAccessInit, StreamAccessState } from '../../gateway/access/stream-access.ts'
import type { TokenSetup } from '../core/access/helpers.ts'
import type { ExecutionContext, TestFn } from 'ava'

const test = anyTest as TestFn<TokenSetup & { root: string, other: string }>

const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n'
const MEDIA_PLAYLIST = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.000000,\n0.m4s\n#EXT-X-ENDLIST\n'

/** Keys, a signer and a verifier on a test clock, and two roots: one the test's tokens cover, one they do not. */
async function prepare (t: ExecutionContext<TokenSetup & { root: string, other: string }>): Promise<void> {
  // tokenSetup removes its folder on teardown, which hooks may not register
  const setup = await tokenSetup(t)
  t.context = { ...setup, root: (await rootOf('360p')).toString(), other: (await rootOf('elsewhere')).toString() }
}

/** A Koa app with the middleware in front of stand-ins for the content routes; its base URL. */
async function app (t: ExecutionContext<TokenSetup>, init: Partial<StreamAccessInit> = {}): Promise<string> {
  const { verifier, keys, clock } = t.context
  const koa = new Koa()
  koa.use(errors(silentLogger()))
  // the authentication middleware's part, for the test: a header names a signed-in user
  koa.use(async (ctx, next) => {
    if (ctx.get('X-Test-User') !== '') ctx.state.caller = { kind: 'user', userId: ctx.get('X-Test-User'), name: 'u', role: 'viewer', via: 'session' }
    await next()
  })
  koa.use(streamAccess({ verifier, nodes: createNodeCredentialVerifier({ keys, clock }) }, { publicMedia: () => false, ...init }))
  const router = new Router()
    .get('/media/:id/master.m3u8', ctx => { ctx.type = PLAYLIST_TYPE; ctx.body = MASTER })
    .get('/media/:id/:profile/index.m3u8', ctx => {
      // as sendFile answers a stored playlist: a stream, an Etag, 304 when it matches
      ctx.set('Etag', '"bafy-playlist"')
      if (ctx.get('If-None-Match') === '"bafy-playlist"') { ctx.status = 304; return }
      ctx.type = PLAYLIST_TYPE
      ctx.body = Readable.from([Buffer.from(MEDIA_PLAYLIST)])
    })
    .get('/media/:id/:profile/:file', ctx => { ctx.body = { file: ctx.params.file, node: (ctx.state as StreamAccessState).node ?? null } })
    .get(/^\/ipfs\/.*/, ctx => { ctx.body = { path: ctx.path } })
    .get('/healthz', ctx => { ctx.body = { ok: true } })
  koa.use(router.routes())
  const { address, close } = await listenHttp(koa, { key: 'listen', address: '127.0.0.1:0', setBy: 'test' }, silentLogger())
  t.teardown(close)
  return `http://127.0.0.1:${address.port}`
}

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, text: string, json: () => { error?: string, message?: string } }> {
  const res = await fetch(url, { headers })
  const text = await res.text()
  return { status: res.status, text, json: () => JSON.parse(text) }
}

function sign (t: ExecutionContext<TokenSetup & { root: string }>, mediaId = MEDIA, ttlSeconds = 600): string {
  return t.context.signer.sign({ userId: USER, mediaId, roots: [t.context.root] }, { ttlSeconds }).token
}

test('a token for the media opens its paths; none is 401, a flipped byte or another media 403', async t => {
  await prepare(t)
  const base = await app(t)
  const token = sign(t)
  t.is((await get(`${base}/media/${MEDIA}/360p/0.m4s?token=${token}`)).status, 200)
  t.is((await get(`${base}/media/${MEDIA}/360p/0.m4s`, { Authorization: `Bearer ${token}` })).status, 200, 'a bearer token too')
  const missing = await get(`${base}/media/${MEDIA}/360p/0.m4s`)
  t.is(missing.status, 401)
  t.is(missing.json().error, 'TokenMissingError')
  const bytes = Buffer.from(token, 'base64url')
  bytes[40] ^= 1
  t.is((await get(`${base}/media/${MEDIA}/360p/0.m4s?token=${bytes.toString('base64url')}`)).json().error, 'TokenInvalidError')
  const other = await get(`${base}/media/fedcba9876543210/360p/0.m4s?token=${token}`)
  t.is(other.status, 403)
  t.is(other.json().error, 'TokenScopeError')
  t.is((await get(`${base}/media/${MEDIA}/360p/0.m4s?token=${token}&token=${token}`)).status, 403, 'one token per request')
  t.is((await get(`${base}/healthz`)).status, 200, 'other paths are not this middleware\'s')
})

test('an expired token is 403 and says expired, past 60 s of skew', async t => {
  await prepare(t)
  const base = await app(t)
  const token = sign(t, MEDIA, 60)
  t.context.clock.advance(60_000 + 60_000)
  t.is((await get(`${base}/media/${MEDIA}/360p/0.m4s?token=${token}`)).status, 200)
  t.context.clock.advance(1000)
  const expired = await get(`${base}/media/${MEDIA}/360p/0.m4s?token=${token}`)
  t.is(expired.status, 403)
  t.is(expired.json().error, 'TokenExpiredError')
  t.regex(expired.text, /expired/)
  t.false(expired.text.includes(token.slice(0, 20)), 'the token is not quoted')
})

test('/ipfs needs a token whose roots include the path\'s root; a block that is no covered root is refused', async t => {
  await prepare(t)
  const base = await app(t)
  const token = sign(t)
  t.is((await get(`${base}/ipfs/${t.context.root}/0.m4s?token=${token}`)).status, 200)
  t.is((await get(`${base}/ipfs/${t.context.root}?format=raw&token=${token}`)).status, 200)
  t.is((await get(`${base}/ipfs/${t.context.other}?format=raw&token=${token}`)).json().error, 'TokenScopeError')
  t.is((await get(`${base}/ipfs/${t.context.other}`)).status, 401)
})

test('a node credential opens any CID; a bad one is refused, not ignored', async t => {
  await prepare(t)
  const base = await app(t)
  const { credential } = createNodeCredentialIssuer({ keys: t.context.keys, clock: t.context.clock }).issue('12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')
  t.is((await get(`${base}/ipfs/${t.context.other}?format=raw`, { [NODE_CREDENTIAL_HEADER]: credential })).status, 200)
  const served = await get(`${base}/media/${MEDIA}/360p/0.m4s`, { [NODE_CREDENTIAL_HEADER]: credential })
  t.is(JSON.parse(served.text).node, '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')
  t.is((await get(`${base}/ipfs/${t.context.other}?format=raw`, { [NODE_CREDENTIAL_HEADER]: credential.slice(0, -2) + (credential.endsWith('AA') ? 'BB' : 'AA') })).status, 403)
})

test('public media need nothing; a signed-in caller passes where callers are allowed, nobody passes without a credential', async t => {
  await prepare(t)
  let open = true
  const publicBase = await app(t, { publicMedia: () => open })
  t.is((await get(`${publicBase}/media/${MEDIA}/360p/0.m4s`)).status, 200)
  open = false
  t.is((await get(`${publicBase}/media/${MEDIA}/360p/0.m4s`)).status, 401, 'read on every request')
  t.is((await get(`${publicBase}/media/${MEDIA}/360p/0.m4s`, { 'X-Test-User': 'u1' })).status, 401, 'a node takes stream tokens only')

  const server = await app(t, { allowCaller: true })
  t.is((await get(`${server}/media/${MEDIA}/360p/0.m4s`, { 'X-Test-User': 'u1' })).status, 200)
  t.is((await get(`${server}/media/${MEDIA}/360p/0.m4s`)).status, 401)
  t.is((await get(`${server}/media/fedcba9876543210/360p/0.m4s?token=${sign(t)}`)).status, 403, 'a token that is given is checked')
})

test('playlists answered under a token carry it to their children, stored ones too; without a token they are untouched', async t => {
  await prepare(t)
  const base = await app(t)
  const token = sign(t)
  const master = await get(`${base}/media/${MEDIA}/master.m3u8?token=${token}`)
  t.is(master.text, MASTER.replace('360p/index.m3u8', `360p/index.m3u8?token=${token}`))
  // a stored playlist (a stream with an Etag): rewritten in full, even when the client holds the stored bytes
  const variants: Array<Record<string, string>> = [{}, { 'If-None-Match': '"bafy-playlist"' }, { Range: 'bytes=0-9' }]
  for (const headers of variants) {
    const res = await fetch(`${base}/media/${MEDIA}/360p/index.m3u8?token=${token}`, { headers })
    t.is(res.status, 200, JSON.stringify(headers))
    t.is(res.headers.get('etag'), null, 'the rewritten answer is not the stored file')
    t.is(await res.text(), MEDIA_PLAYLIST.replace('init.mp4', `init.mp4?token=${token}`).replace('0.m4s', `0.m4s?token=${token}`))
  }
  const bearer = await get(`${base}/media/${MEDIA}/master.m3u8`, { Authorization: `Bearer ${token}` })
  t.true(bearer.text.includes(`?token=${token}`), 'a bearer stream token is carried too')

  const open = await app(t, { publicMedia: () => true })
  t.is((await get(`${open}/media/${MEDIA}/master.m3u8`)).text, MASTER, 'byte-identical without a token')
  const stored = await fetch(`${open}/media/${MEDIA}/360p/index.m3u8`, { headers: { 'If-None-Match': '"bafy-playlist"' } })
  t.is(stored.status, 304, 'conditional requests work as before without a token')
})

test('a local node passes its owner\'s stream tokens alone; other users get 403 naming the rule, node credentials still pass', async t => {
  await prepare(t)
  let owner: string | null = USER
  const base = await app(t, { onlyUser: () => owner })
  const segment = `${base}/media/${MEDIA}/360p/0.m4s`
  t.is((await get(`${segment}?token=${sign(t)}`)).status, 200, 'the owner')
  const other = t.context.signer.sign({ userId: 'bob', mediaId: MEDIA, roots: [t.context.root] }, { ttlSeconds: 600 }).token
  const refused = await get(`${segment}?token=${other}`)
  t.is(refused.status, 403)
  t.like(refused.json(), { error: 'OwnerOnlyError', message: 'this is a local node that serves only its owner' })
  t.is((await get(`${base}/ipfs/${t.context.root}/0.m4s?token=${other}`)).status, 403, 'under /ipfs too')
  t.is((await get(`${segment}?token=${other}`, { 'X-Test-User': 'bob' })).status, 403, 'a signed-in caller is no owner where callers are not allowed')
  const { credential } = createNodeCredentialIssuer({ keys: t.context.keys, clock: t.context.clock }).issue('12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')
  t.is((await get(segment, { [NODE_CREDENTIAL_HEADER]: credential })).status, 200, 'another node pinning')
  t.is((await get(segment)).status, 401, 'no token is still 401')
  t.is((await get(`${segment}?token=${sign(t, 'fedcba9876543210')}`)).json().error, 'TokenScopeError', 'the token is checked before its user')
  // read on every request: the owner the main server sends next applies at once; none serves nobody
  owner = null
  const nobody = await get(`${segment}?token=${sign(t)}`)
  t.is(nobody.status, 403)
  t.regex(nobody.json().message ?? '', /no owner, so it serves nobody: start it with --owner USER/)
})
