import { once } from 'node:events'
import { createServer } from 'node:http'
import { listenOnFirstFree, parseListen } from '../core/listen.ts'
import type { Logger } from '../core/logger.ts'
import type { ListenSetting } from '../core/listen.ts'
import type Koa from 'koa'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

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
