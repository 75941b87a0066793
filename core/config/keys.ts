import { checkNodeName, checkOwnerName, checkRegion, checkTags } from '../control/index.ts'
import { databaseSetting, parseDatabase } from '../database-url.ts'
import { InvalidConfigError } from '../errors.ts'
import { DISTRIBUTION_DEFAULTS, parseDistribution } from './distribution.ts'
import {
  boolean, booleanOrFolders, byteSize, folders, hosts, httpUrl, list, listenAddress, LOG_LEVELS, oneOf, parseDnsName,
  parseLogFormat, parseTcpMultiaddrs, seconds, secondsOrNone, serverAddress, text, token, wholeNumber
} from './parse.ts'
import type { Parse } from './parse.ts'

/*
 * Every configuration key of every program, once: its flag, environment variable, key in the program's file
 * (`<data>/config.json` for the main server and its metadata, `<data>/node.json` for a CDN node), parser and fixed
 * default. The loaders read this table, `--help` and the README's tables say the same (a test compares them).
 */

/** Who reads a key: the main server, a CDN node, the main server's metadata, or the client verbs (`ls`, `add`...). */
export type Program = 'server' | 'node' | 'metadata' | 'client'

/** One configuration key. */
export interface ConfigKey {
  program: Program
  /** Its name in the loaded settings, and in the program's file unless `inFile` is false. */
  key: string
  /** Its command-line flag, when it has one. */
  flag?: string
  /** Its environment variable. */
  env: string
  /** Read from the program's file. @default true */
  inFile?: boolean
  /** An empty value counts as unset (optional settings such as API keys). @default false */
  blankIsUnset?: boolean
  /** A node's setting kept in node.json once given, so later runs need only `--data`. @default false */
  remembered?: boolean
  parse: Parse
  /** The default, when it is one fixed value (others are worked out by the program's loader). */
  default?: unknown
}

/** The metadata providers this build knows (core/metadata has a client for each), in their default order. */
export type ProviderName = 'tmdb' | 'tvdb' | 'omdb'
export const PROVIDER_NAMES: readonly ProviderName[] = ['tmdb', 'tvdb', 'omdb']

/** Default data folders. */
export const DEFAULT_DATA = '.cidcast'
export const DEFAULT_NODE_DATA = '.cidcast-node'
/** The main server's file in its data folder. */
export const CONFIG_FILE = 'config.json'
/** The main server's SQLite catalog in its data folder, unless `database` says otherwise. */
export const CATALOG_FILE = 'catalog.sqlite'
/** A CDN node's file in its data folder. */
export const NODE_CONFIG_FILE = 'node.json'
/** Where the main server listens by default, and so where nodes and client verbs look for it. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080'

/** The fallbacks of a node on a miss (core/edge's FallbackMode). */
export const FALLBACK_MODES = ['origin', 'redirect', 'peer'] as const
export const NODE_MODES = ['shared', 'local'] as const
export const PIN_FROM = ['any', 'p2p'] as const

/** A node's name, as the main server will take it (core/control's rules). */
function nodeName (value: unknown, key: string): string {
  try {
    return checkNodeName(text(value, key))
  } catch (err) {
    throw new InvalidConfigError(`${key}: ${(err as Error).message}`)
  }
}

/** A node's owner: a user name of the main server, folded as the main server folds it. */
function ownerName (value: unknown, key: string): string {
  try {
    return checkOwnerName(text(value, key), key)
  } catch (err) {
    throw new InvalidConfigError((err as Error).message)
  }
}

/** A node's region, as the main server will take it; an empty value clears a remembered one (null: none). */
function region (value: unknown, key: string): string | null {
  if (value === '') return null
  try {
    return checkRegion(value, key)
  } catch (err) {
    throw new InvalidConfigError((err as Error).message)
  }
}

/** A node's tags: a list or a comma-separated string of them, each as a region; an empty one clears them. */
function tags (value: unknown, key: string): string[] {
  try {
    return checkTags(value === '' ? [] : list(value, key), key)
  } catch (err) {
    throw new InvalidConfigError((err as Error).message)
  }
}

/** Most segments a node reads ahead of a fallback viewer. */
export const MAX_READ_AHEAD_SEGMENTS = 30

/** A whole number from 0 to `max`. */
function wholeNumberUpTo (max: number): Parse<number> {
  return (value, key) => {
    const n = wholeNumber()(value, key)
    if (n > max) throw new InvalidConfigError(`${key} must be at most ${max}`)
    return n
  }
}

/** The catalog's database (core/database-url.ts), as its canonical setting: `sqlite:<absolute path>` or the URL. */
function database (value: unknown, key: string): string {
  return databaseSetting(parseDatabase(value, key))
}

const logLevel = oneOf(LOG_LEVELS)
const data = { key: 'data', flag: '--data', inFile: false, blankIsUnset: true, parse: text }
// the background scrub of stored blocks, on both sides (core/ipfs/scrub.ts: 16 MiB/s, a pass a day)
const scrubRate = { key: 'scrubBytesPerSecond', env: 'CIDCAST_SCRUB_BYTES_PER_SECOND', parse: wholeNumber(), default: 16 * 1024 * 1024 }
const scrubInterval = { key: 'scrubIntervalSeconds', env: 'CIDCAST_SCRUB_INTERVAL_SECONDS', parse: seconds, default: 86_400 }

/** The table. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  { program: 'server', ...data, env: 'CIDCAST_DATA', default: DEFAULT_DATA },
  // its default, `sqlite:<data>/catalog.sqlite`, depends on the data folder: core/config/server.ts works it out
  { program: 'server', key: 'database', flag: '--database', env: 'CIDCAST_DATABASE', parse: database },
  { program: 'server', key: 'listen', flag: '--listen', env: 'CIDCAST_LISTEN', parse: listenAddress, default: '127.0.0.1:8080' },
  { program: 'server', key: 'url', flag: '--url', env: 'CIDCAST_URL', parse: httpUrl(true) },
  { program: 'server', key: 'p2pListen', flag: '--p2p-listen', env: 'CIDCAST_P2P_LISTEN', parse: parseTcpMultiaddrs, default: ['/ip4/127.0.0.1/tcp/4001'] },
  { program: 'server', key: 'library', flag: '--library', env: 'CIDCAST_LIBRARY', parse: folders, default: [] },
  { program: 'server', key: 'maxSessions', flag: '--max-sessions', env: 'CIDCAST_MAX_SESSIONS', parse: wholeNumber(1) },
  { program: 'server', key: 'cacheBytes', env: 'CIDCAST_CACHE_BYTES', parse: wholeNumber(), default: 256 * 1024 * 1024 },
  { program: 'server', key: 'logLevel', flag: '--log-level', env: 'CIDCAST_LOG_LEVEL', parse: logLevel, default: 'info' },
  { program: 'server', key: 'logFormat', flag: '--log-format', env: 'CIDCAST_LOG_FORMAT', parse: parseLogFormat, default: 'auto' },
  { program: 'server', key: 'dnsListen', flag: '--dns-listen', env: 'CIDCAST_DNS_LISTEN', parse: listenAddress, default: '127.0.0.1:5353' },
  { program: 'server', key: 'dnsZone', flag: '--dns-zone', env: 'CIDCAST_DNS_ZONE', parse: parseDnsName, default: 'cidcast.internal' },
  { program: 'server', key: 'heartbeatSeconds', env: 'CIDCAST_HEARTBEAT_SECONDS', parse: seconds, default: 15 },
  { program: 'server', key: 'repinAfterSeconds', env: 'CIDCAST_REPIN_AFTER_SECONDS', parse: seconds, default: 300 },
  { program: 'server', key: 'viewerReplication', env: 'CIDCAST_VIEWER_REPLICATION', blankIsUnset: true, parse: boolean, default: false },
  { program: 'server', ...scrubRate },
  { program: 'server', ...scrubInterval },
  { program: 'server', key: 'publicMedia', env: 'CIDCAST_PUBLIC_MEDIA', parse: boolean, default: false },
  { program: 'server', key: 'playUrlSeconds', env: 'CIDCAST_PLAY_URL_SECONDS', parse: seconds, default: 21_600 },
  { program: 'server', key: 'distribution', env: 'CIDCAST_DISTRIBUTION', parse: parseDistribution, default: DISTRIBUTION_DEFAULTS },

  { program: 'metadata', key: 'tmdbKey', env: 'CIDCAST_TMDB_KEY', blankIsUnset: true, parse: token },
  { program: 'metadata', key: 'tvdbKey', env: 'CIDCAST_TVDB_KEY', blankIsUnset: true, parse: token },
  { program: 'metadata', key: 'tvdbPin', env: 'CIDCAST_TVDB_PIN', blankIsUnset: true, parse: token },
  { program: 'metadata', key: 'omdbKey', env: 'CIDCAST_OMDB_KEY', blankIsUnset: true, parse: token },
  { program: 'metadata', key: 'metadataProviders', env: 'CIDCAST_METADATA_PROVIDERS', blankIsUnset: true, parse: list, default: [...PROVIDER_NAMES] },
  { program: 'metadata', key: 'metadataLanguage', env: 'CIDCAST_METADATA_LANGUAGE', blankIsUnset: true, parse: token, default: 'en-US' },
  { program: 'metadata', key: 'writeNfo', env: 'CIDCAST_WRITE_NFO', blankIsUnset: true, parse: booleanOrFolders, default: false },
  { program: 'metadata', key: 'fetchImages', env: 'CIDCAST_FETCH_IMAGES', blankIsUnset: true, parse: boolean, default: true },
  { program: 'metadata', key: 'tmdbUrl', env: 'CIDCAST_TMDB_URL', blankIsUnset: true, parse: httpUrl() },
  { program: 'metadata', key: 'tmdbImageUrl', env: 'CIDCAST_TMDB_IMAGE_URL', blankIsUnset: true, parse: httpUrl() },
  { program: 'metadata', key: 'tvdbUrl', env: 'CIDCAST_TVDB_URL', blankIsUnset: true, parse: httpUrl() },
  { program: 'metadata', key: 'omdbUrl', env: 'CIDCAST_OMDB_URL', blankIsUnset: true, parse: httpUrl() },
  { program: 'metadata', key: 'tvdbImageHosts', env: 'CIDCAST_TVDB_IMAGE_HOSTS', blankIsUnset: true, parse: hosts },
  { program: 'metadata', key: 'omdbImageHosts', env: 'CIDCAST_OMDB_IMAGE_HOSTS', blankIsUnset: true, parse: hosts },

  { program: 'client', key: 'server', flag: '--server', env: 'CIDCAST_SERVER', inFile: false, parse: httpUrl(), default: DEFAULT_SERVER_URL },

  { program: 'node', ...data, env: 'CIDCAST_NODE_DATA', default: DEFAULT_NODE_DATA },
  { program: 'node', key: 'name', flag: '--name', env: 'CIDCAST_NODE_NAME', remembered: true, parse: nodeName },
  { program: 'node', key: 'mode', flag: '--mode', env: 'CIDCAST_NODE_MODE', remembered: true, parse: oneOf(NODE_MODES), default: 'shared' },
  { program: 'node', key: 'owner', flag: '--owner', env: 'CIDCAST_NODE_OWNER', remembered: true, parse: ownerName },
  { program: 'node', key: 'region', flag: '--region', env: 'CIDCAST_REGION', remembered: true, parse: region },
  { program: 'node', key: 'tags', flag: '--tags', env: 'CIDCAST_TAGS', remembered: true, parse: tags, default: [] },
  { program: 'node', key: 'server', flag: '--server', env: 'CIDCAST_SERVER', remembered: true, parse: serverAddress, default: DEFAULT_SERVER_URL },
  { program: 'node', key: 'listen', flag: '--listen', env: 'CIDCAST_NODE_LISTEN', remembered: true, parse: listenAddress },
  { program: 'node', key: 'p2pListen', flag: '--p2p-listen', env: 'CIDCAST_NODE_P2P_LISTEN', remembered: true, parse: parseTcpMultiaddrs },
  { program: 'node', key: 'url', flag: '--url', env: 'CIDCAST_NODE_URL', remembered: true, parse: httpUrl(true) },
  { program: 'node', key: 'fallback', flag: '--fallback', env: 'CIDCAST_NODE_FALLBACK', remembered: true, parse: oneOf(FALLBACK_MODES), default: 'origin' },
  { program: 'node', key: 'pinFrom', flag: '--pin-from', env: 'CIDCAST_NODE_PIN_FROM', remembered: true, parse: oneOf(PIN_FROM), default: 'any' },
  { program: 'node', key: 'quotaBytes', flag: '--quota', env: 'CIDCAST_NODE_QUOTA_BYTES', remembered: true, parse: byteSize },
  // the budget of blocks kept from fallback answers (core/edge/edge-cache.ts); its default is a share of the quota
  { program: 'node', key: 'cacheBytes', flag: '--cache-size', env: 'CIDCAST_CACHE_SIZE', remembered: true, parse: byteSize },
  { program: 'node', key: 'cacheMinLifetimeSeconds', env: 'CIDCAST_CACHE_MIN_LIFETIME_SECONDS', parse: secondsOrNone(30 * 86_400), default: 3600 },
  { program: 'node', key: 'readAheadSegments', env: 'CIDCAST_READ_AHEAD_SEGMENTS', parse: wholeNumberUpTo(MAX_READ_AHEAD_SEGMENTS), default: 3 },
  { program: 'node', key: 'memoryCacheBytes', env: 'CIDCAST_NODE_MEMORY_CACHE_BYTES', parse: wholeNumber(), default: 128 * 1024 * 1024 },
  { program: 'node', ...scrubRate },
  { program: 'node', ...scrubInterval },
  { program: 'node', key: 'logLevel', flag: '--log-level', env: 'CIDCAST_LOG_LEVEL', parse: logLevel, default: 'info' },
  { program: 'node', key: 'logFormat', flag: '--log-format', env: 'CIDCAST_LOG_FORMAT', parse: parseLogFormat, default: 'auto' }
]

/** The keys one program reads. */
export function keysOf (...programs: Program[]): ConfigKey[] {
  return CONFIG_KEYS.filter(k => programs.includes(k.program))
}

/** A key's fixed default (for `--help` and client verbs). */
export function defaultOf (program: Program, key: string): unknown {
  return CONFIG_KEYS.find(k => k.program === program && k.key === key)?.default
}
