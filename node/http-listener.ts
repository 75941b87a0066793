import { once } from 'node:events'
import { createServer } from 'node:http'
import { parseListen } from '../core/config.ts'
import type Koa from 'koa'
import type { AddressInfo } from 'node:net'

/** A Koa app listening on `HOST:PORT`: its bound address and how to close it (open keep-alive connections included). */
export async function listenHttp (app: Koa, listen: string): Promise<{ address: AddressInfo, close: () => Promise<void> }> {
  const { host, port } = parseListen(listen)
  const http = createServer(app.callback())
  // longer than the idle timeout of common proxies, so they never reuse a connection we just closed
  http.keepAliveTimeout = 65_000
  http.listen(port, host)
  await Promise.race([once(http, 'listening'), once(http, 'error').then(([err]) => { throw err })])
  return {
    address: http.address() as AddressInfo,
    close: async () => {
      http.closeAllConnections()
      await new Promise<void>(resolve => http.close(() => { resolve() }))
    }
  }
}
