import { createServer, isIPv6 } from 'node:net'
import { InvalidConfigError, PortInUseError } from './errors.ts'
import type { Logger } from './logger.ts'

/**
 * Listening on ports that may be taken. A port the user set (flag, environment, config file) is used or the program
 * stops with one line naming that setting; a default that another program holds moves to the next free port, with a
 * warning, so a second daemon on one machine starts without any setting at all.
 */

/** A listen address and who chose it. */
export interface ListenSetting {
  /** The configuration key it belongs to (`listen`, `p2pListen`, `dnsListen`). */
  key: string
  /** `HOST:PORT`, or a TCP multiaddr such as `/ip4/0.0.0.0/tcp/4002`. */
  address: string
  /**
   * What set it, as the user knows it: `--listen`, `CIDCAST_LISTEN`, `listen in /srv/cidcast/config.json`. Absent
   * for a default, which moves to a free port when taken instead of stopping the program.
   */
  setBy?: string
  /** For a default: a port tried before it (the one an earlier run moved to, so a node's URL stays put). */
  prefer?: number
}

/** Ports after a taken default tried one by one before any free port (the system's choice, port 0). */
export const NEXT_PORTS_TRIED = 10

const TCP_MULTIADDR = /^\/(?:ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/

/** Parses `HOST:PORT` (IPv6 hosts in brackets), port 0..65535; `key` names the setting in the error. */
export function parseListen (value: unknown, key = 'listen'): { host: string, port: number } {
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(`${key} must be a non-empty string`)
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value)
  const port = Number(match?.[3])
  if (match == null || port > 65535) throw new InvalidConfigError(`${key} must be HOST:PORT (got ${JSON.stringify(value)})`)
  return { host: match[1] ?? match[2], port }
}

/** The host and port of `HOST:PORT` or `/ip4|ip6/HOST/tcp/PORT`. */
export function hostAndPort (address: string): { host: string, port: number } {
  const multi = TCP_MULTIADDR.exec(address)
  if (multi != null) return { host: multi[1], port: Number(multi[2]) }
  if (address.startsWith('/')) throw new InvalidConfigError(`${address} is not a TCP multiaddr (/ip4/HOST/tcp/PORT or /ip6/HOST/tcp/PORT)`)
  return parseListen(address)
}

/** The same address with another port. */
export function withPort (address: string, port: number): string {
  return TCP_MULTIADDR.test(address) ? address.replace(/\/tcp\/\d+$/, `/tcp/${port}`) : address.replace(/:\d+$/, `:${port}`)
}

/** The ports to try, in order: the one set; for a default, the port moved to before, the default, the next few, then any. */
export function portsToTry (setting: ListenSetting): number[] {
  const { port } = hostAndPort(setting.address)
  if (setting.setBy != null || port === 0) return [port]
  const ports = [port]
  for (let next = port + 1; next <= Math.min(port + NEXT_PORTS_TRIED, 65_535); next++) ports.push(next)
  ports.push(0)
  return [...new Set(setting.prefer != null && setting.prefer > 0 ? [setting.prefer, ...ports] : ports)]
}

/**
 * Calls `bind(port)` on each port `setting` allows until one is free; `bind` resolves to the port it got (the
 * system's choice for 0) and rejects with Node's errno error. A default that moved is logged as a warning; a failure
 * becomes an error naming the setting (`PortInUseError` for a taken port).
 */
export async function listenOnFirstFree (setting: ListenSetting, bind: (port: number) => Promise<number>, log: Logger): Promise<{ port: number, address: string }> {
  const wanted = hostAndPort(setting.address).port
  for (const port of portsToTry(setting)) {
    try {
      const bound = await bind(port)
      const address = withPort(setting.address, bound)
      if (setting.setBy == null && bound === setting.prefer && bound !== wanted) {
        log.info({ default: setting.address, chosen: address }, `default ${setting.key}: listening where an earlier run moved it`)
      } else if (setting.setBy == null && bound !== wanted) {
        log.warn({ default: setting.address, chosen: address }, `default ${setting.key} is taken: listening on another port`)
      }
      return { port: bound, address }
    } catch (err) {
      // only a default moves, and only off a taken port: any other failure is the address itself
      if (setting.setBy == null && errnoCode(err) === 'EADDRINUSE') continue
      throw listenError(setting, withPort(setting.address, port), err)
    }
  }
  // unreachable in practice: the last port tried is 0, which the system always finds
  throw listenError(setting, setting.address, Object.assign(new Error('no free port'), { code: 'EADDRINUSE' }))
}

/** Turns Node's errno error for a listen address into one a user can act on, naming the setting; others as they are. */
export function listenError (setting: ListenSetting, address: string, err: unknown): unknown {
  const by = setting.setBy ?? `the default ${setting.key}`
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return new PortInUseError(`${by} ${address} is in use by another program; choose another port or stop that program`)
    case 'EADDRNOTAVAIL':
      return new InvalidConfigError(`${by} ${address} is not an address of this machine; choose one of its addresses, or 0.0.0.0 for all`)
    case 'EACCES':
      return new InvalidConfigError(`${by} ${address} needs privileges (a port below 1024); choose a port above 1023`)
    default:
      return err
  }
}

/**
 * Resolves when a TCP port could be listened on just now, with the options libp2p's TCP transport uses (so the
 * answer is the one libp2p would get); rejects with Node's errno error. Only a hint: the port is free again when
 * this returns, so whoever listens next must still handle losing it.
 */
export async function probeTcpPort (host: string, port: number): Promise<number> {
  if (port === 0) return 0
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port, ipv6Only: isIPv6(host) }, () => { resolve() })
  })
  await new Promise(resolve => server.close(resolve))
  return port
}

function errnoCode (err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}
