import { join, resolve } from 'node:path'
import { CATALOG_FILE, CONFIG_FILE, keysOf } from './keys.ts'
import { readConfigFile, readSettings, unknownKeyWarnings, valuesOf } from './read.ts'
import type { DistributionSettings } from './distribution.ts'
import type { Setting } from './read.ts'
import type { LogFormat } from '../logger.ts'

/** Settings of the main server. Flags > `CIDCAST_*` environment > `<data>/config.json` > defaults. */
export interface ServerConfig {
  /** Data folder: catalog, blocks, datastore, keys. */
  data: string
  /**
   * The catalog's database: `sqlite:<absolute path>` or a `postgres://` URL (core/database-url.ts; it may hold a
   * password: show it through `describeDatabase`). @default sqlite:<data>/catalog.sqlite
   */
  database: string
  /** HTTP listen address `HOST:PORT`. @default 127.0.0.1:8080 */
  listen: string
  /** The URL nodes, other main servers and node-less play URLs reach this server at. @default its `listen` URL */
  url?: string
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
  /** Viewers may order replication to a node ("Replicate here"); otherwise only admins. @default false */
  viewerReplication: boolean
  /** Bytes per second the background scrub reads and hashes; 0 turns it off. @default 16777216 */
  scrubBytesPerSecond: number
  /** Seconds from the end of one scrub pass to the start of the next (the first starts within a minute). @default 86400 */
  scrubIntervalSeconds: number
  /** Media need no stream token, on the main server and on every node (an open site). @default false */
  publicMedia: boolean
  /** Seconds a play URL lives when its caller does not say (the web UI's player renews it before then). @default 21600 */
  playUrlSeconds: number
  /** Automatic distribution to CDN nodes (issue 13): demand, placement, eviction, pre-caching. */
  distribution: DistributionSettings
  /**
   * What set each value that is not a default, as the user knows it (`--listen`, `CIDCAST_LISTEN`,
   * `listen in /srv/cidcast/config.json`): errors name it, and a taken port moves only when it is a default.
   */
  setBy: Partial<Record<string, string>>
  /** Each value and where it came from. */
  settings: Record<string, Setting>
  /** Keys of config.json that nothing reads, named with the file: to be logged once the logger exists. */
  warnings: string[]
}

/** Merges flags, environment, `<data>/config.json` and defaults, validating every value once. */
export async function loadServerConfig (flags: Partial<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): Promise<ServerConfig> {
  const keys = keysOf('server')
  const { data } = readSettings(keys.filter(k => k.key === 'data'), { flags, env, file: {}, path: '' })
  const dir = resolve(data.value as string)
  const path = join(dir, CONFIG_FILE)
  const file = await readConfigFile(path)
  const settings: Record<string, Setting> = { ...readSettings(keys, { flags, env, file, path }), data: { ...data, value: dir } }
  settings.database ??= { value: `sqlite:${join(dir, CATALOG_FILE)}`, source: 'default' }
  const { values, setBy } = valuesOf(settings)
  // config.json also holds the metadata keys (core/config/metadata.ts reads them)
  const warnings = unknownKeyWarnings(file, path, keysOf('server', 'metadata'))
  return { ...values, setBy: withoutData(setBy), settings, warnings } as unknown as ServerConfig
}

/** The data folder is never a listen setting or anything else `setBy` is asked about: kept out as before. */
function withoutData (setBy: Partial<Record<string, string>>): Partial<Record<string, string>> {
  const { data: _data, ...rest } = setBy
  return rest
}
