import Router from '@koa/router'
import type { StreamPublicKey } from '../../core/access/index.ts'

/*
 * `POST /api/v1/keys/rotate` (`cidcast keys rotate`, issue 11): a new stream signing key. Tokens of the old one
 * keep verifying until they expire (the key ring keeps it that long), and online nodes are asked for a heartbeat
 * at once, which brings them the new key. Admins only (the route table).
 */

export interface KeyRouteComponents {
  /** Rotates and nudges the nodes (node/stream-access.ts). */
  rotate: () => Promise<{ key: StreamPublicKey, keys: StreamPublicKey[], nudged: number }>
}

/** The key routes. */
export function keyRoutes ({ rotate }: KeyRouteComponents): Router {
  return new Router().post('/api/v1/keys/rotate', async ctx => {
    const rotated = await rotate()
    ctx.set('Cache-Control', 'no-store')
    // public halves only: ids and the times old keys stop
    ctx.body = { key: { id: rotated.key.id }, keys: rotated.keys.map(k => k.expiresAt === undefined ? { id: k.id } : { id: k.id, expiresAt: k.expiresAt }), nudged: rotated.nudged }
  })
}
