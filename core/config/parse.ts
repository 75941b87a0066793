import { isAbsolute, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidConfigError } from '../errors.ts'
import { parseListen } from '../listen.ts'
import type { LogFormat } from '../logger.ts'

/*
 * The parsers of configuration values, one per kind of value. Each takes what a flag, an environment variable or
 * a config file gave (a string, or any JSON value) and the key's name, and returns the checked value or throws
 * InvalidConfigError naming the key. Environment variables are strings: lists are comma-separated, numbers and
 * booleans are spelled out.
 */

/** A parser of one configuration value. */
export type Parse<T = unknown> = (value: unknown, key: string) => T

/** pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
/** The values of `logFormat`. */
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty']

/** A non-empty string. */
export function text (value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(`${key} must be a non-empty string`)
  return value
}

/** A non-empty string without spaces (an API key, a language), trimmed. */
export function token (value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\s\0]/.test(value.trim())) throw new InvalidConfigError(`${key} must be a non-empty string without spaces`)
  return value.trim()
}

/** One of `allowed`. */
export function oneOf<T extends string> (allowed: readonly T[]): Parse<T> {
  return (value, key) => {
    const s = text(value, key)
    if (!allowed.includes(s as T)) throw new InvalidConfigError(`${key} must be one of ${allowed.join(', ')} (got ${JSON.stringify(s)})`)
    return s as T
  }
}

/** A list of non-empty strings, or a comma-separated string of them. */
export function list (value: unknown, key: string): string[] {
  const items = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(items) || items.some(i => typeof i !== 'string' || i === '')) throw new InvalidConfigError(`${key} must be a list of strings`)
  return items as string[]
}

/** A whole number >= `min`. */
export function wholeNumber (min = 0): Parse<number> {
  return (value, key) => {
    const n = typeof value === 'string' ? Number(value) : value
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new InvalidConfigError(`${key} must be a whole number >= 0`)
    if (n < min) throw new InvalidConfigError(`${key} must be at least ${min}`)
    return n
  }
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 }

/** A size in bytes: a whole number, or a number and a unit (`500MB`, `10GiB`, `1.5 TiB`; k/M/G/T are powers of 1000, KiB/MiB/GiB/TiB of 1024). */
export function byteSize (value: unknown, key: string): number {
  if (typeof value === 'number') return wholeNumber()(value, key)
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value) : null
  const unit = match == null ? undefined : SIZE_UNITS[match[2].toLowerCase()]
  if (match == null || unit == null) throw new InvalidConfigError(`${key} must be a number of bytes or a size such as 500MB or 10GiB (got ${JSON.stringify(value)})`)
  const n = Math.floor(Number(match[1]) * unit)
  if (!Number.isSafeInteger(n)) throw new InvalidConfigError(`${key} is too large (got ${JSON.stringify(value)})`)
  return n
}

/** Seconds >= 0 and at most `max` (a lifetime, where 0 means none). */
export function secondsOrNone (max: number): Parse<number> {
  return (value, key) => {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > max) throw new InvalidConfigError(`${key} must be a number of seconds >= 0 and <= ${max}`)
    return n
  }
}

/** Seconds, > 0 and at most a day. */
export function seconds (value: unknown, key: string): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > 86_400) throw new InvalidConfigError(`${key} must be a number of seconds > 0 and <= 86400`)
  return n
}

/** true or false (also 1/0, yes/no, on/off in the environment). */
export function boolean (value: unknown, key: string): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string' && /^(1|true|yes|on)$/i.test(value)) return true
  if (typeof value === 'string' && /^(0|false|no|off)$/i.test(value)) return false
  throw new InvalidConfigError(`${key} must be true or false`)
}

/** An http(s) URL; `strict` also refuses credentials and drops trailing slashes (a URL cidcast hands on to others). */
export function httpUrl (strict = false): Parse<string> {
  return (value, key) => {
    const s = token(value, key)
    let url: URL | undefined
    try {
      url = new URL(s)
    } catch {}
    if (url == null || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidConfigError(`${key} must be an http(s) URL (got ${JSON.stringify(s)})`)
    if (!strict) return s
    if (url.username !== '' || url.password !== '') throw new InvalidConfigError(`${key} must not contain credentials`)
    return url.href.replace(/\/+$/, '')
  }
}

/** `HOST:PORT`, kept as written. */
export function listenAddress (value: unknown, key: string): string {
  parseListen(value, key)
  return value as string
}

/** Folders, made absolute. */
export function folders (value: unknown, key: string): string[] {
  return list(value, key).map(p => resolve(p))
}

/** Hosts or `host:port`s, lower case. */
export function hosts (value: unknown, key: string): string[] {
  const items = list(value, key)
  for (const h of items) if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:.]+\](?::\d{1,5})?$/.test(h)) throw new InvalidConfigError(`${key}: ${JSON.stringify(h)} is not a host or host:port`)
  return items.map(h => h.toLowerCase())
}

/** true/false, or a list of absolute folders. */
export function booleanOrFolders (value: unknown, key: string): boolean | string[] {
  if (typeof value === 'boolean' || (typeof value === 'string' && /^(1|true|yes|on|0|false|no|off)$/i.test(value))) return boolean(value, key)
  const items = list(value, key)
  for (const folder of items) if (!isAbsolute(folder)) throw new InvalidConfigError(`${key}: ${JSON.stringify(folder)} is not an absolute folder (or use true / false)`)
  return items.map(folder => resolve(folder))
}

/** Validates a DNS name of letters, digits and hyphens; returns it lower case without a trailing dot. */
export function parseDnsName (value: unknown, key = 'dnsZone'): string {
  const name = text(value, key).toLowerCase().replace(/\.$/, '')
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
    let address: string | undefined
    try {
      address = multiaddr(text(item, `${key}[${i}]`)).toString()
    } catch (err) {
      if ((err as Error).name === 'InvalidConfigError') throw err
    }
    if (address == null || !/^\/(?:ip4|ip6)\/[^/]+\/tcp\/\d+$/.test(address)) {
      throw new InvalidConfigError(`${key}[${i}] must be a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001 (got ${JSON.stringify(item)})`)
    }
    return address
  })
}

/** The main server as a node is given it: an http(s) URL, or a multiaddr ending in `/p2p/<peer id>`. */
export function serverAddress (value: unknown, key: string): string {
  const s = text(value, key)
  if (!s.startsWith('/')) return httpUrl(true)(s, key)
  let address
  try {
    address = multiaddr(s)
  } catch {
    throw new InvalidConfigError(`${key} is neither an http(s) URL nor a multiaddr: ${JSON.stringify(s)}`)
  }
  if (address.getComponents().find(c => c.name === 'p2p') == null) throw new InvalidConfigError(`${key}: a multiaddr must end in /p2p/<the main server's peer id>`)
  return address.toString()
}
