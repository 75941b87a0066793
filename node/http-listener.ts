import { once } from 'node:events'
import { createServer } from 'node:http'
import { listenOnFirstFree, parseListen } from '../core/listen.ts'
import type { Logger } from '../core/logger.ts'
import type { ListenSetting } from '../core/listen.ts'
import type Koa from 'koa'
import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** What Node's HTTP parser refuses before any route sees the request (by the error's code), and how to say so. */
const PARSER_REFUSALS: Readonly<Record<string, { status: number, reason: string, error: string, message: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', error: 'HeadersTooLargeError', message: 'the request line and headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', error: 'RequestTimeoutError', message: 'the request did not arrive in time' }
}
const MALFORMED = { status: 400, reason: 'Bad Request', error: 'InvalidRequestError', message: 'the request is not well-formed HTTP/1.1' }

/**
 * Answers a request the HTTP parser refused (headers too large, a body both chunked and sized, an unknown transfer
 * coding) as every other refusal is answered, `{ error, message }` in JSON, where Node would send a bare status line;
 * the parser's own words (and the bytes it choked on) are not repeated to the caller. Then closes the connection.
 */
function refuseUnparsed (err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy()
    return
  }
  const refusal = PARSER_REFUSALS[err.code ?? ''] ?? MALFORMED
  const body = JSON.stringify({ error: refusal.error, message: refusal.message })
  socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * A Koa app listening on `HOST:PORT`: its bound address and how to close it (open keep-alive connections included).
 * A taken port the user set fails with `PortInUseError` naming the setting; a taken default moves to a free port.
 */
export async function listenHttp (app: Koa, setting: ListenSetting, log: Logger): Promise<{ address: AddressInfo, close: () => Promise<void> }> {
  const { host } = parseListen(setting.address, setting.key)
  const bound: { server?: Server } = {}
  await listenOnFirstFree(setting, async port => {
    const server = createServer(app.callback())
    // longer than the idle timeout of common proxies, so they never reuse a connection we just closed
    server.keepAliveTimeout = 65_000
    server.on('clientError', refuseUnparsed)
    server.listen(port, host)
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err })])
    bound.server = server
    return (server.address() as AddressInfo).port
  }, log)
  const { server } = bound
  if (server == null) throw new Error('listenOnFirstFree returned without binding')
  return {
    address: server.address() as AddressInfo,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
