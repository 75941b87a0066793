import test from 'ava'
import Koa from 'koa'
import { createStreamUrls } from '../../core/access/index.ts'
import { MediaNotFoundError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { errors } from '../../gateway/middleware/errors.ts'
import { playRoutes } from '../../gateway/routes/play.ts'
import { listenHttp } from '../../node/http-listener.ts'
import { MEDIA, T0, tokenSetup } from '../core/access/helpers.ts'
import type { ExecutionContext } from 'ava'

/** The play route over a real play-URL service, behind a stand-in for authentication (a header names the user). */
async function app (t: ExecutionContext): Promise<{ base: string, verify: (token: string) => string }> {
  const { signer, keys, verifier } = await tokenSetup(t, { retireAfterSeconds: 86_400 })
  const streamUrls = createStreamUrls({
    signer,
    keys,
    media: async id => { if (id !== MEDIA) throw new MediaNotFoundError(`no media ${id}`); return { id, renditions: [], root: null } },
    nodes: async () => [{ name: 'Alpha', label: 'alpha', peerId: '12D3KooWalpha', mode: 'shared', url: 'http://alpha.example:8081', revoked: false }],
    serverUrl: () => 'http://main.example:8080'
  })
  const koa = new Koa()
  koa.use(errors(silentLogger()))
  koa.use(async (ctx, next) => {
    if (ctx.get('X-Test-User') !== '') ctx.state.caller = { kind: 'user', userId: ctx.get('X-Test-User'), name: 'u', role: 'viewer', via: 'session' }
    await next()
  })
  const router = playRoutes({ streamUrls })
  koa.use(router.routes())
  const { address, close } = await listenHttp(koa, { key: 'listen', address: '127.0.0.1:0', setBy: 'test' }, silentLogger())
  t.teardown(close)
  return { base: `http://127.0.0.1:${address.port}`, verify: token => verifier.verify(token, { mediaId: MEDIA, now: T0 }).userId }
}

async function get (url: string, user?: string): Promise<{ status: number, body: Record<string, string>, cache: string | null }> {
  const res = await fetch(url, { headers: user == null ? {} : { 'X-Test-User': user } })
  return { status: res.status, body: await res.json() as Record<string, string>, cache: res.headers.get('cache-control') }
}

test('a signed-in user gets a signed URL on the node asked for, or on the main server, with its expiry', async t => {
  const { base, verify } = await app(t)
  const onNode = await get(`${base}/api/v1/media/${MEDIA}/play?node=alpha&ttl=120`, 'u-7')
  t.is(onNode.status, 200)
  t.is(onNode.cache, 'no-store')
  t.deepEqual(Object.keys(onNode.body).sort(), ['expiresAt', 'url'])
  const url = new URL(onNode.body.url)
  t.is(url.origin + url.pathname, `http://alpha.example:8081/media/${MEDIA}/master.m3u8`)
  t.is(verify(url.searchParams.get('token') ?? ''), 'u-7', 'signed for the caller')
  t.is(onNode.body.expiresAt, new Date(T0 + 120_000).toISOString())
  const onServer = await get(`${base}/api/v1/media/${MEDIA}/play`, 'u-7')
  t.true(onServer.body.url.startsWith(`http://main.example:8080/media/${MEDIA}/master.m3u8?token=`))
})

test('no signed-in user is 401; a bad ttl 400; an unknown node or media 404', async t => {
  const { base } = await app(t)
  t.like(await get(`${base}/api/v1/media/${MEDIA}/play`), { status: 401, body: { error: 'TokenMissingError' } })
  for (const ttl of ['abc', '-5', '1.5', '0', '86401']) t.like(await get(`${base}/api/v1/media/${MEDIA}/play?ttl=${ttl}`, 'u'), { status: 400 }, ttl)
  t.like(await get(`${base}/api/v1/media/${MEDIA}/play?ttl=1&ttl=2`, 'u'), { status: 400, body: { message: 'ttl may be given once' } })
  t.like(await get(`${base}/api/v1/media/${MEDIA}/play?node=nowhere`, 'u'), { status: 404, body: { error: 'NodeNotFoundError' } })
  t.like(await get(`${base}/api/v1/media/fedcba9876543210/play`, 'u'), { status: 404, body: { error: 'MediaNotFoundError' } })
})
