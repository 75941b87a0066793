import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

/*
 * A TCP proxy that can split the network between two programs on one machine: `pass` forwards both ways, `drop`
 * is a blackhole (new connections are accepted and never forwarded, open ones stop moving bytes, nothing is
 * refused or closed: what a dead link or a firewall that drops looks like), `reset` closes every connection with
 * a TCP reset and resets new ones at once. Bytes are never lost: a dropped connection keeps what it held back
 * and goes on where it stopped once the proxy passes again, as TCP does when a link comes back.
 */

export type ProxyMode = 'pass' | 'drop' | 'reset'

export interface FaultyProxy {
  /** The port it listens on, on 127.0.0.1. */
  port: number
  /** Switches every open connection and every later one to `mode`. */
  set: (mode: ProxyMode) => void
  mode: () => ProxyMode
  /** Connections accepted so far. */
  accepted: () => number
  close: () => Promise<void>
}

interface Link {
  client: Socket
  upstream?: Socket
}

/** Starts a proxy on 127.0.0.1 to `targetPort` on 127.0.0.1, passing. */
export async function startFaultyProxy (targetPort: number): Promise<FaultyProxy> {
  let mode: ProxyMode = 'pass'
  let accepted = 0
  const links = new Set<Link>()

  const end = (link: Link): void => {
    links.delete(link)
    link.client.destroy()
    link.upstream?.destroy()
  }
  const reset = (link: Link): void => {
    links.delete(link)
    link.client.resetAndDestroy()
    link.upstream?.resetAndDestroy()
  }
  /** One direction: written on as it comes while passing, held back (paused) otherwise. */
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', chunk => { if (!to.write(chunk)) from.pause() })
    to.on('drain', () => { if (mode === 'pass') from.resume() })
  }
  const open = (link: Link): void => {
    const upstream = connect(targetPort, '127.0.0.1')
    link.upstream = upstream
    upstream.on('error', () => { end(link) })
    upstream.on('close', () => { end(link) })
    forward(link.client, upstream)
    forward(upstream, link.client)
  }
  const apply = (link: Link): void => {
    if (mode === 'reset') { reset(link); return }
    if (mode === 'drop') {
      link.client.pause()
      link.upstream?.pause()
      return
    }
    if (link.upstream == null) open(link)
    link.client.resume()
    link.upstream?.resume()
  }

  const server: Server = createServer({ pauseOnConnect: true }, client => {
    accepted++
    const link: Link = { client }
    links.add(link)
    client.on('error', () => { end(link) })
    client.on('close', () => { end(link) })
    apply(link)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return {
    port: (server.address() as AddressInfo).port,
    set (next) {
      mode = next
      for (const link of [...links]) apply(link)
    },
    mode: () => mode,
    accepted: () => accepted,
    async close () {
      for (const link of [...links]) end(link)
      await new Promise(resolve => server.close(resolve))
    }
  }
}
