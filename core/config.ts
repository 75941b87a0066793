import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidConfigError } from './errors.ts'
import type { LogFormat } from './logger.ts'

/** Settings of the main server. Flags > `CIDCAST_*` environment > `<data>/config.json` > defaults. */
export interface ServerConfig {
  /** Data folder: catalog, blocks, datastore, keys. */
  data: string
  /** HTTP listen address `HOST:PORT`. @default 127.0.0.1:8080 */
  listen: string
  /** libp2p listen multiaddrs. @default ['/ip4/127.0.0.1/tcp/4001'] */
  p2pListen: string[]
  /** Folders watched for new media files. @default [] */
  library: string[]
  /** Most ffmpeg sessions at once. @default available cores */
  maxSessions?: number
  /** Bytes of recently served blocks kept in memory. @default 268435456 */
  cacheBytes: number
  /** pino level. @default info */
  logLevel: string
  /** Log lines: `pretty` (readable), `json` (one object a line), `auto` (pretty on a terminal, else JSON). @default auto */
  logFormat: LogFormat
  /** Authoritative DNS for the zone, UDP and TCP, `HOST:PORT`. @default 127.0.0.1:5353 */
  dnsListen: string
  /** The DNS zone nodes get names in (`<label>.<zone>`). @default cidcast.internal */
  dnsZone: string
  /** Seconds between a CDN node's heartbeats; 3 missed ones mark it offline. @default 15 */
  heartbeatSeconds: number
  /** Seconds a node may stay offline before its pins with a replication factor are placed on other nodes. @default 300 */
  repinAfterSeconds: number
  /**
   * What set each value that is not a default, as the user knows it (`--listen`, `CIDCAST_LISTEN`,
   * `listen in /srv/cidcast/config.json`): errors name it, and a taken port moves only when it is a default.
   */
  setBy: Partial<Record<string, string>>
}

/** One configuration key: its flag, environment variable, default and parser. */
interface KeySpec {
  flag?: string
  env: string
  parse: (value: unknown, key: string) => unknown
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
/** The values of `logFormat`. */
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty']

function str (value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(`${key} must be a non-empty string`)
  return value
}

/** Parses `HOST:PORT` (IPv6 hosts in brackets), port 0..65535. */
export function parseListen (value: unknown, key = 'listen'): { host: string, port: number } {
  const text = str(value, key)
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text)
  const port = Number(match?.[3])
  if (match == null || port > 65535) throw new InvalidConfigError(`${key} must be HOST:PORT (got ${JSON.stringify(text)})`)
  return { host: match[1] ?? match[2], port }
}

/** Validates a DNS name of letters, digits and hyphens; returns it lower case without a trailing dot. */
export function parseDnsName (value: string, key = 'dnsZone'): string {
  const name = value.toLowerCase().replace(/\.$/, '')
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
  if (name.length === 0 || name.length > 200 || !name.split('.').every(l => label.test(l))) {
    throw new InvalidConfigError(`${key} must be a DNS name of letters, digits and hyphens (got ${JSON.stringify(value)})`)
  }
  return name
}

/** Checks a `logFormat` value. */
export function parseLogFormat (value: unknown, key = 'logFormat'): LogFormat {
  if (typeof value !== 'string' || !(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidConfigError(`${key} must be one of ${LOG_FORMATS.join(', ')} (got ${JSON.stringify(value)})`)
  return value as LogFormat
}

/** Checks a list (or comma-separated string) of TCP multiaddrs to listen on, as libp2p's TCP transport takes them. */
export function parseTcpMultiaddrs (value: unknown, key: string): string[] {
  const items = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(items) || items.length === 0) throw new InvalidConfigError(`${key} must be a list of multiaddrs`)
  return items.map((item, i) => {
    let text: string | undefined
    try {
      text = multiaddr(str(item, `${key}[${i}]`)).toString()
    } catch (err) {
      if ((err as Error).name === 'InvalidConfigError') throw err
    }
    if (text == null || !/^\/(?:ip4|ip6)\/[^/]+\/tcp\/\d+$/.test(text)) {
      throw new InvalidConfigError(`${key}[${i}] must be a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001 (got ${JSON.stringify(item)})`)
    }
    return text
  })
}

function listOf (value: unknown, key: string): string[] {
  const items = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(items) || items.some(i => typeof i !== 'string' || i === '')) throw new InvalidConfigError(`${key} must be a list of strings`)
  return items as string[]
}

function positiveInt (value: unknown, key: string): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new InvalidConfigError(`${key} must be a whole number >= 0`)
  return n
}

function positiveSeconds (value: unknown, key: string): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > 86_400) throw new InvalidConfigError(`${key} must be a number of seconds > 0 and <= 86400`)
  return n
}

const KEYS: Record<Exclude<keyof ServerConfig, 'data' | 'setBy'>, KeySpec> = {
  listen: { flag: '--listen', env: 'CIDCAST_LISTEN', parse: (v, k) => { parseListen(v, k); return v } },
  p2pListen: { flag: '--p2p-listen', env: 'CIDCAST_P2P_LISTEN', parse: parseTcpMultiaddrs },
  library: { flag: '--library', env: 'CIDCAST_LIBRARY', parse: (v, k) => listOf(v, k).map(p => resolve(p)) },
  maxSessions: { flag: '--max-sessions', env: 'CIDCAST_MAX_SESSIONS', parse: (v, k) => { const n = positiveInt(v, k); if (n < 1) throw new InvalidConfigError(`${k} must be at least 1`); return n } },
  cacheBytes: { env: 'CIDCAST_CACHE_BYTES', parse: positiveInt },
  dnsListen: { flag: '--dns-listen', env: 'CIDCAST_DNS_LISTEN', parse: (v, k) => { parseListen(v, k); return v } },
  dnsZone: { flag: '--dns-zone', env: 'CIDCAST_DNS_ZONE', parse: (v, k) => parseDnsName(str(v, k), k) },
  heartbeatSeconds: { env: 'CIDCAST_HEARTBEAT_SECONDS', parse: positiveSeconds },
  repinAfterSeconds: { env: 'CIDCAST_REPIN_AFTER_SECONDS', parse: positiveSeconds },
  logLevel: { flag: '--log-level', env: 'CIDCAST_LOG_LEVEL', parse: (v, k) => { const s = str(v, k); if (!LOG_LEVELS.has(s)) throw new InvalidConfigError(`${k} must be one of ${[...LOG_LEVELS].join(', ')}`); return s } },
  logFormat: { flag: '--log-format', env: 'CIDCAST_LOG_FORMAT', parse: parseLogFormat }
}

export const DEFAULT_DATA = '.cidcast'
export const CONFIG_FILE = 'config.json'

const DEFAULTS: Omit<ServerConfig, 'data' | 'setBy'> = {
  listen: '127.0.0.1:8080',
  p2pListen: ['/ip4/127.0.0.1/tcp/4001'],
  library: [],
  cacheBytes: 256 * 1024 * 1024,
  logLevel: 'info',
  logFormat: 'auto',
  dnsListen: '127.0.0.1:5353',
  dnsZone: 'cidcast.internal',
  heartbeatSeconds: 15,
  repinAfterSeconds: 300
}

/** The configuration keys and their environment variables, for `--help` and the README. */
export function configKeys (): Array<{ key: string, env: string }> {
  return Object.entries(KEYS).map(([key, spec]) => ({ key, env: spec.env }))
}

/** Reads `<data>/config.json` (absent is fine; malformed is refused with its path). */
async function readConfigFile (file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new InvalidConfigError(`cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    return parsed as Record<string, unknown>
  } catch (err) {
    throw new InvalidConfigError(`${file} is not a JSON object: ${(err as Error).message}`)
  }
}

/** Merges flags, environment, the config file and defaults, validating every value once. */
export async function loadServerConfig (flags: Partial<Record<keyof ServerConfig, unknown>>, env: NodeJS.ProcessEnv = process.env): Promise<ServerConfig> {
  const data = resolve(typeof flags.data === 'string' && flags.data !== '' ? flags.data : env.CIDCAST_DATA ?? DEFAULT_DATA)
  const path = join(data, CONFIG_FILE)
  const file = await readConfigFile(path)
  const setBy: Partial<Record<string, string>> = {}
  const config: Record<string, unknown> = { ...DEFAULTS, data, setBy }
  for (const [key, spec] of Object.entries(KEYS)) {
    const sources: Array<[unknown, string]> = [[flags[key as keyof ServerConfig], spec.flag ?? key], [env[spec.env], spec.env], [file[key], `${key} in ${path}`]]
    const [raw, by] = sources.find(([value]) => value != null) ?? []
    if (raw == null) continue
    config[key] = spec.parse(raw, key)
    setBy[key] = by
  }
  return config as unknown as ServerConfig
}
