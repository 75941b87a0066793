import type { Context } from 'koa'

/** True when the request comes from this machine (the socket's address: forwarding headers are not trusted). */
export function fromLoopback (ctx: Context): boolean {
  const address = ctx.req.socket.remoteAddress ?? ''
  return address === '::1' || /^(?:::ffff:)?127\./.test(address)
}
