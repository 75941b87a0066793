import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { parseListen } from '../core/config.ts'
import { InvalidConfigError } from '../core/errors.ts'
import { checkNodeName } from '../core/control/index.ts'
import type { NodeMode } from '../core/control/index.ts'
import type { FallbackMode } from '../core/edge/index.ts'

/**
 * A CDN node's settings. Only the data folder matters: what is given on the first run (or later, to change it)
 * is remembered in `<data>/node.json`, so `cidcast node --data DIR` is enough afterwards. Flags > environment >
 * `node.json` > defaults; every value is checked once, at start, and refused with a message naming its key.
 */

export interface NodeConfig {
  /** The node's data folder: blocks, datastore, identity, swarm key, cached playlists. */
  data: string
  /** Wanted name (the main server turns it into a DNS label). @default the host name */
  name: string
  /** `shared` serves anyone and is listed; `local` binds loopback only and is never listed. @default shared */
  mode: NodeMode
  /** The main server: its HTTP URL, or a multiaddr ending in `/p2p/<peer id>`. @default http://127.0.0.1:8080 */
  server: string
  /** HTTP gateway `HOST:PORT`. @default 0.0.0.0:8081 (shared), 127.0.0.1:8081 (local) */
  listen: string
  /** libp2p listen multiaddrs. @default /ip4/0.0.0.0/tcp/4002 (shared), /ip4/127.0.0.1/tcp/0 (local) */
  p2pListen: string[]
  /** The URL viewers reach the gateway at. @default derived from `listen` */
  url?: string
  /** On a miss: `origin` (proxy, verified), `redirect`, or `peer` (bitswap first). @default origin */
  fallback: FallbackMode
  /**
   * Where pins fetch blocks: `any` (the holders' HTTP gateways first, then bitswap) or `p2p` (bitswap only: every
   * transfer inside the private network, encrypted with the swarm key). @default any
   */
  pinFrom: 'any' | 'p2p'
  /** Most bytes of blocks kept. @default free space of the data folder's file system */
  quotaBytes?: number
  /** Bytes of blocks kept in memory for serving. @default 134217728 */
  cacheBytes: number
  /** pino level. @default info */
  logLevel: string
}

export const NODE_CONFIG_FILE = 'node.json'
export const DEFAULT_NODE_DATA = '.cidcast-node'
export const DEFAULT_NODE_SERVER = 'http://127.0.0.1:8080'
const DEFAULT_PORT = 8081

/** Keys remembered in node.json (the rest are per run). */
const REMEMBERED = ['name', 'mode', 'server', 'listen', 'p2pListen', 'url', 'fallback', 'pinFrom', 'quotaBytes'] as const
type Remembered = typeof REMEMBERED[number]

const ENV: Record<Exclude<keyof NodeConfig, 'data'>, string> = {
  name: 'CIDCAST_NODE_NAME',
  mode: 'CIDCAST_NODE_MODE',
  server: 'CIDCAST_SERVER',
  listen: 'CIDCAST_NODE_LISTEN',
  p2pListen: 'CIDCAST_NODE_P2P_LISTEN',
  url: 'CIDCAST_NODE_URL',
  fallback: 'CIDCAST_NODE_FALLBACK',
  pinFrom: 'CIDCAST_NODE_PIN_FROM',
  quotaBytes: 'CIDCAST_NODE_QUOTA_BYTES',
  cacheBytes: 'CIDCAST_NODE_CACHE_BYTES',
  logLevel: 'CIDCAST_LOG_LEVEL'
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

function text (value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(`${key} must be a non-empty string`)
  return value
}

function oneOf<T extends string> (value: unknown, key: string, allowed: readonly T[]): T {
  const s = text(value, key)
  if (!allowed.includes(s as T)) throw new InvalidConfigError(`${key} must be one of ${allowed.join(', ')} (got ${JSON.stringify(s)})`)
  return s as T
}

function bytes (value: unknown, key: string): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new InvalidConfigError(`${key} must be a whole number of bytes >= 0`)
  return n
}

function multiaddrs (value: unknown, key: string): string[] {
  const items = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(items) || items.length === 0) throw new InvalidConfigError(`${key} must be a list of multiaddrs`)
  return items.map((item, i) => {
    try {
      return multiaddr(text(item, `${key}[${i}]`)).toString()
    } catch (err) {
      if ((err as Error).name === 'InvalidConfigError') throw err
      throw new InvalidConfigError(`${key}[${i}] is not a multiaddr: ${JSON.stringify(item)}`)
    }
  })
}

function serverAddress (value: unknown, key: string): string {
  const s = text(value, key)
  if (s.startsWith('/')) {
    let address
    try {
      address = multiaddr(s)
    } catch {
      throw new InvalidConfigError(`${key} is neither an http(s) URL nor a multiaddr: ${JSON.stringify(s)}`)
    }
    if (address.getComponents().find(c => c.name === 'p2p') == null) throw new InvalidConfigError(`${key}: a multiaddr must end in /p2p/<the main server's peer id>`)
    return address.toString()
  }
  return httpUrl(s, key)
}

function httpUrl (value: unknown, key: string): string {
  const s = text(value, key)
  let url: URL
  try {
    url = new URL(s)
  } catch {
    throw new InvalidConfigError(`${key} must be an http(s) URL (got ${JSON.stringify(s)})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidConfigError(`${key} must be an http(s) URL (got ${JSON.stringify(s)})`)
  if (url.username !== '' || url.password !== '') throw new InvalidConfigError(`${key} must not contain credentials`)
  return url.href.replace(/\/+$/, '')
}

function nodeName (value: unknown, key: string): string {
  try {
    return checkNodeName(text(value, key))
  } catch (err) {
    throw new InvalidConfigError(`${key}: ${(err as Error).message}`)
  }
}

const PARSE: Record<Exclude<keyof NodeConfig, 'data'>, (value: unknown, key: string) => unknown> = {
  name: nodeName,
  mode: (v, k) => oneOf(v, k, ['shared', 'local']),
  server: serverAddress,
  listen: (v, k) => { parseListen(v, k); return v },
  p2pListen: multiaddrs,
  url: httpUrl,
  fallback: (v, k) => oneOf(v, k, ['origin', 'redirect', 'peer']),
  pinFrom: (v, k) => oneOf(v, k, ['any', 'p2p']),
  quotaBytes: bytes,
  cacheBytes: bytes,
  logLevel: (v, k) => oneOf(v, k, [...LOG_LEVELS])
}

function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function isLoopbackMultiaddr (address: string): boolean {
  const ip = multiaddr(address).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  return ip != null && isLoopbackHost(ip)
}

/** Reads `<data>/node.json`; absent is an empty object, anything but a JSON object is refused. */
async function readNodeFile (file: string): Promise<Record<string, unknown>> {
  let raw: string
  try {
    raw = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new InvalidConfigError(`cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    return parsed as Record<string, unknown>
  } catch (err) {
    throw new InvalidConfigError(`${file} is not a JSON object: ${(err as Error).message}`)
  }
}

/** Merges flags, environment, `<data>/node.json` and defaults, checks them, and remembers the given flags. */
export async function loadNodeConfig (flags: Partial<Record<keyof NodeConfig, unknown>>, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  const data = resolve(typeof flags.data === 'string' && flags.data !== '' ? flags.data : env.CIDCAST_NODE_DATA ?? DEFAULT_NODE_DATA)
  const file = join(data, NODE_CONFIG_FILE)
  const saved = await readNodeFile(file)
  const config: Record<string, unknown> = { data }
  for (const [key, parse] of Object.entries(PARSE)) {
    const raw = flags[key as keyof NodeConfig] ?? env[ENV[key as keyof typeof ENV]] ?? saved[key]
    if (raw !== undefined) config[key] = parse(raw, key)
  }
  config.mode ??= 'shared'
  const local = config.mode === 'local'
  config.name ??= nodeName(hostname() || 'node', 'name')
  config.server ??= DEFAULT_NODE_SERVER
  config.listen ??= `${local ? '127.0.0.1' : '0.0.0.0'}:${DEFAULT_PORT}`
  config.p2pListen ??= [local ? '/ip4/127.0.0.1/tcp/0' : '/ip4/0.0.0.0/tcp/4002']
  config.fallback ??= 'origin'
  config.pinFrom ??= 'any'
  config.cacheBytes ??= 128 * 1024 * 1024
  config.logLevel ??= 'info'
  if (local) {
    // a local node serves its owner only: nothing may listen beyond this machine
    if (!isLoopbackHost(parseListen(config.listen).host)) throw new InvalidConfigError(`listen must be a loopback address in local mode (got ${String(config.listen)})`)
    const open = (config.p2pListen as string[]).find(a => !isLoopbackMultiaddr(a))
    if (open != null) throw new InvalidConfigError(`p2pListen must be loopback addresses in local mode (got ${open})`)
  }

  // the first run remembers everything it settled on; later runs remember what their flags change
  const remembered: Partial<Record<Remembered, unknown>> = {}
  for (const key of REMEMBERED) {
    const value = Object.keys(saved).length === 0 || flags[key] !== undefined ? config[key] : saved[key]
    if (value !== undefined) remembered[key] = value
  }
  const next = JSON.stringify(remembered, null, 2) + '\n'
  if (JSON.stringify(saved, null, 2) + '\n' !== next) {
    await mkdir(data, { recursive: true, mode: 0o700 })
    await writeFile(`${file}.tmp`, next)
    await rename(`${file}.tmp`, file)
  }
  return config as unknown as NodeConfig
}
