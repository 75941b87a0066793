import Koa from 'koa'
import test from 'ava'
import { errors } from '../../../gateway/middleware/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { listenHttp } from '../../../node/http-listener.ts'
import { MEDIA, T0, tokenSetup, USER } from './helpers.ts'

// the statuses issue 11 asks of a node, through the one error middleware, ahead of the media routes' wiring
test('refused stream tokens answer 401 or 403 with a JSON body, an expired one saying so', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const app = new Koa()
  app.use(errors(silentLogger()))
  app.use(ctx => {
    const [, mediaId] = /^\/media\/([^/]+)\//.exec(ctx.path) ?? []
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined
    const now = typeof ctx.query.now === 'string' ? Number(ctx.query.now) : T0
    ctx.body = { user: verifier.verify(token, { mediaId, now }).userId }
  })
  const { address, close } = await listenHttp(app, { key: 'listen', address: '127.0.0.1:0', setBy: 'test' }, silentLogger())
  t.teardown(close)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  const flipped = Buffer.from(token, 'base64url')
  flipped[30] ^= 1
  const get = async (path: string): Promise<[number, { error?: string, message?: string, user?: string }]> => {
    const res = await fetch(`http://127.0.0.1:${address.port}${path}`)
    return [res.status, await res.json() as { error?: string, message?: string }]
  }
  t.deepEqual(await get(`/media/${MEDIA}/master.m3u8?token=${token}`), [200, { user: USER }])
  t.like(await get(`/media/${MEDIA}/master.m3u8`), [401, { error: 'TokenMissingError' }])
  t.like(await get(`/media/${MEDIA}/master.m3u8?token=${flipped.toString('base64url')}`), [403, { error: 'TokenInvalidError' }])
  t.like(await get(`/media/fedcba9876543210/master.m3u8?token=${token}`), [403, { error: 'TokenScopeError' }])
  const [status, body] = await get(`/media/${MEDIA}/master.m3u8?token=${token}&now=${T0 + 3600_000}`)
  t.is(status, 403)
  t.is(body.error, 'TokenExpiredError')
  t.regex(body.message ?? '', /expired/)
  t.false(JSON.stringify(body).includes(token.slice(0, 24)))
})
