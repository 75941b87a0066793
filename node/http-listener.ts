import { once } from 'node:events'
import { createServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { listenOnFirstFree, parseListen, probeTcpPort } from '../core/listen.ts'
import type { Logger } from '../core/logger.ts'
import type { ListenSetting } from '../core/listen.ts'
import type Koa from 'koa'
import type { Server } from 'node:http'
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net'

/**
 * Listening sockets per HTTP address (SO_REUSEPORT, Linux). libuv accepts one connection per listening socket per
 * turn of the event loop (libuv#3696, Node >= 20), and a turn of a busy node serving 200 viewers lasts 50-150 ms: a
 * burst of new viewers then waited up to 10 s in the kernel's accept queue while every open connection was served
 * promptly. With this many sockets the kernel spreads new connections over them and a turn accepts up to this many.
 */
export const ACCEPT_SOCKETS = process.platform === 'linux' ? 32 : 1

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
  const bound: { server?: Server, acceptors: TcpServer[] } = { acceptors: [] }
  await listenOnFirstFree(setting, async port => {
    const server = createServer(app.callback())
    // longer than the idle timeout of common proxies, so they never reuse a connection we just closed
    server.keepAliveTimeout = 65_000
    server.on('clientError', refuseUnparsed)
    let acceptors: TcpServer[] = []
    try {
      acceptors = await listenShared(server, host, port)
    } catch (err) {
      if (!SHARING_REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err
      log.warn({ err }, 'this system refuses listening sockets that share a port: one socket accepts new connections, one per turn of the event loop')
      await listenOn(server, { port, host, reusePort: false })
    }
    bound.server = server
    bound.acceptors = acceptors
    return (server.address() as AddressInfo).port
  }, log)
  const { server, acceptors } = bound
  if (server == null) throw new Error('listenOnFirstFree returned without binding')
  return {
    address: server.address() as AddressInfo,
    close: async () => {
      server.closeAllConnections()
      await closeAll([server, ...acceptors])
    }
  }
}

/** What a system without SO_REUSEPORT (or one that forbids it) answers a listen that asks for it. */
const SHARING_REFUSED: ReadonlySet<string> = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOPROTOOPT', 'EINVAL'])

/**
 * Listens with `server` and ACCEPT_SOCKETS - 1 more sockets on one port, the extra sockets handing what they accept
 * to `server`; resolves to those sockets. Nothing is left listening when it rejects.
 */
async function listenShared (server: Server, host: string, port: number): Promise<TcpServer[]> {
  if (ACCEPT_SOCKETS === 1) {
    await listenOn(server, { port, host, reusePort: false })
    return []
  }
  // sockets that share a port also share it with any other program of this user that asks to: a plain bind first
  // finds a port another program holds (as before), and picks the free port for 0
  const free = await probeTcpPort(host, port === 0 ? await freePortOn(host) : port)
  await listenOn(server, { port: free, host, reusePort: true })
  const acceptors: TcpServer[] = []
  try {
    for (let n = 1; n < ACCEPT_SOCKETS; n++) {
      // what this socket accepts is the HTTP server's connection, as if its own socket had accepted it
      const acceptor = createTcpServer({ noDelay: true }, socket => { server.emit('connection', socket) })
      await listenOn(acceptor, { port: free, host, reusePort: true })
      acceptors.push(acceptor)
    }
  } catch (err) {
    await closeAll([server, ...acceptors])
    throw err
  }
  return acceptors
}

/** Listens on `options`; rejects with Node's errno error. */
async function listenOn (server: TcpServer, options: { port: number, host: string, reusePort: boolean }): Promise<void> {
  server.listen(options)
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err })])
}

/** A port free on `host` just now, the system's choice. */
async function freePortOn (host: string): Promise<number> {
  const probe = createTcpServer()
  await listenOn(probe, { port: 0, host, reusePort: false })
  const { port } = probe.address() as AddressInfo
  await closeAll([probe])
  return port
}

async function closeAll (servers: TcpServer[]): Promise<void> {
  await Promise.all(servers.filter(server => server.listening).map(async server => { await new Promise<void>(resolve => server.close(() => { resolve() })) }))
}
