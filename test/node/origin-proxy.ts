import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * An HTTP proxy in front of the main server for node tests: it records every request a node sends to its
 * origin, and can alter answers on the way (to show that a node never serves bytes that do not match their CID).
 */
export interface OriginProxy {
  url: string
  /** Paths (with query) requested so far. */
  requests: string[]
  /** Replaces the body of answers to paths matching it. */
  tamper?: { path: RegExp, body: (body: Buffer) => Buffer }
  stop: () => Promise<void>
}

/** Starts a proxy to `target` on 127.0.0.1, port 0. */
export async function startOriginProxy (target: string): Promise<OriginProxy> {
  const proxy: OriginProxy = { url: '', requests: [], stop: async () => {} }
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    proxy.requests.push(path)
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => { parts.push(chunk) })
    req.on('end', () => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value
      }
      fetch(target + path, { method: req.method, headers, body: parts.length > 0 ? Buffer.concat(parts) : undefined, redirect: 'manual' }).then(async upstream => {
        let body: Buffer = Buffer.from(await upstream.arrayBuffer())
        if (proxy.tamper != null && proxy.tamper.path.test(path)) body = proxy.tamper.body(body)
        const out: Record<string, string> = {}
        upstream.headers.forEach((value, name) => { if (name !== 'content-length' && name !== 'content-encoding' && name !== 'transfer-encoding' && name !== 'connection') out[name] = value })
        res.writeHead(upstream.status, { ...out, 'content-length': String(body.byteLength) })
        res.end(body)
      }, () => {
        res.writeHead(502).end()
      })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.stop = async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }
  return proxy
}
