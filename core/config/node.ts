import { mkdir, rename, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidConfigError } from '../errors.ts'
import { hostAndPort, parseListen, withPort } from '../listen.ts'
import { CONFIG_KEYS, keysOf, NODE_CONFIG_FILE } from './keys.ts'
import { readConfigFile, readSettings, unknownKeyWarnings, valuesOf } from './read.ts'
import type { Setting } from './read.ts'
import type { NodeMode } from '../control/index.ts'
import type { FallbackMode } from '../edge/index.ts'
import type { LogFormat } from '../logger.ts'
import type { ListenSetting } from '../listen.ts'

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
  /** The user NAME of the node's owner on the main server: a `local` node serves them alone (none: nobody). */
  owner?: string
  /** Where the node is (`--region`), sent with its registration: 1-32 of a-z, 0-9 and -. @default none */
  region?: string
  /** Free labels of the node (`--tags a,b`), sent with its registration: at most 8, each as a region. @default [] */
  tags: string[]
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
  /**
   * Most bytes of blocks kept from fallback answers (origin or peer misses, read-ahead); the lowest-value files are
   * evicted past it. Always within the quota. @default half the quota
   */
  cacheBytes?: number
  /** Seconds a file kept from a fallback answer stays at least, unless the disk is full. @default 3600 */
  cacheMinLifetimeSeconds: number
  /** Segments fetched ahead of a viewer streamed by fallback; 0 turns read-ahead off. @default 3 */
  readAheadSegments: number
  /** Bytes of blocks kept in memory for serving. @default 134217728 */
  memoryCacheBytes: number
  /** Bytes per second the background scrub reads and hashes; 0 turns it off. @default 16777216 */
  scrubBytesPerSecond: number
  /** Seconds from the end of one scrub pass to the start of the next (the first starts within a minute). @default 86400 */
  scrubIntervalSeconds: number
  /** pino level. @default info */
  logLevel: string
  /** Log lines: `pretty`, `json`, or `auto` (pretty on a terminal). @default auto */
  logFormat: LogFormat
  /** What set each value that is not a default (`--listen`, `CIDCAST_NODE_LISTEN`, `listen in <data>/node.json`). */
  setBy: Partial<Record<string, string>>
  /** Each value and where it came from. */
  settings: Record<string, Setting>
  /** Keys of node.json that nothing reads, named with the file: to be logged once the logger exists. */
  warnings: string[]
  /** Addresses an earlier run moved a taken default to, tried first while the setting stays a default. */
  picked: PickedAddresses
}

/** Where a default listen address was moved to because its port was taken (kept in node.json as `picked`). */
export interface PickedAddresses {
  listen?: string
  p2pListen?: string
}

/** Defaults set by a program that runs the node (`npm start`): they replace the built-in ones for this run. */
export interface NodeDefaults {
  listen?: string
  p2pListen?: string[]
}

const DEFAULT_PORT = 8081
/** Listen settings: remembered only when the user set them, so a default stays a default (and may move when taken). */
const PORT_KEYS = ['listen', 'p2pListen'] as const
/** Keys remembered in node.json (the rest are per run). */
const REMEMBERED = CONFIG_KEYS.filter(k => k.program === 'node' && k.remembered === true).map(k => k.key)

function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function isLoopbackMultiaddr (address: string): boolean {
  const ip = multiaddr(address).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  return ip != null && isLoopbackHost(ip)
}

/**
 * Merges flags, environment, `<data>/node.json` and defaults, checks them, and remembers the given flags. `defaults`
 * (from a program running the node, such as `npm start`) replace the built-in listen addresses, and node.json's are
 * then ignored: that program decides them on every run.
 */
export async function loadNodeConfig (flags: Partial<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env, defaults: NodeDefaults = {}): Promise<NodeConfig> {
  const keys = keysOf('node')
  const { data: dataSetting } = readSettings(keys.filter(k => k.key === 'data'), { flags, env, file: {}, path: '' })
  const data = resolve(dataSetting.value as string)
  const file = join(data, NODE_CONFIG_FILE)
  const saved = await readConfigFile(file)
  // a program that decides the listen addresses (npm start) makes node.json's irrelevant for this run
  const read = { ...saved }
  for (const key of PORT_KEYS) if (defaults[key] != null) delete read[key]
  const settings: Record<string, Setting> = { ...readSettings(keys, { flags, env, file: read, path: file }), data: { value: data, source: dataSetting.source } }
  const { values: config, setBy } = valuesOf(settings)
  delete setBy.data
  const fromFile = new Set(Object.keys(settings).filter(key => settings[key].source === 'file'))
  const local = config.mode === 'local'
  // an emptied region (`--region ''`) is none
  if (config.region === null) delete config.region
  config.name ??= keys.find(k => k.key === 'name')?.parse(hostname() || 'node', 'name')
  const builtIn = {
    listen: defaults.listen ?? `${local ? '127.0.0.1' : '0.0.0.0'}:${DEFAULT_PORT}`,
    p2pListen: defaults.p2pListen ?? [local ? '/ip4/127.0.0.1/tcp/0' : '/ip4/0.0.0.0/tcp/4002']
  }
  for (const key of PORT_KEYS) {
    // earlier versions wrote the defaults into node.json on the first run: such a value is still a default
    if (fromFile.has(key) && JSON.stringify(config[key]) === JSON.stringify(builtIn[key])) delete setBy[key]
    config[key] ??= builtIn[key]
  }
  config.setBy = setBy
  config.settings = settings
  config.warnings = unknownKeyWarnings(saved, file, keys, ['picked'])
  if (local && config.owner == null) (config.warnings as string[]).push('mode is local and no owner is set: this node serves nobody until it is given one (--owner USER)')
  config.picked = pickedOf(saved.picked, setBy)
  if (config.cacheBytes != null && config.quotaBytes != null && (config.cacheBytes as number) > (config.quotaBytes as number)) {
    throw new InvalidConfigError(`cacheBytes (${String(config.cacheBytes)}) must be within quotaBytes (${String(config.quotaBytes)})`)
  }
  if (local) {
    // a local node serves its owner only: nothing may listen beyond this machine
    if (!isLoopbackHost(parseListen(config.listen).host)) throw new InvalidConfigError(`listen must be a loopback address in local mode (got ${String(config.listen)})`)
    const open = (config.p2pListen as string[]).find(a => !isLoopbackMultiaddr(a))
    if (open != null) throw new InvalidConfigError(`p2pListen must be loopback addresses in local mode (got ${open})`)
  }

  // the first run remembers what it settled on (listen addresses only when set); later runs what their flags change
  const first = Object.keys(saved).length === 0
  const remembered: Record<string, unknown> = {}
  for (const key of REMEMBERED) {
    const settled = isPortKey(key) ? setBy[key] != null && !fromFile.has(key) : true
    const value = flags[key] !== undefined || (first && settled) ? config[key] : saved[key]
    // an emptied region or tag list (`--region ''`) is forgotten, not kept as an empty value
    if (value != null && !(Array.isArray(value) && value.length === 0)) remembered[key] = value
  }
  if (Object.keys(config.picked as PickedAddresses).length > 0) remembered.picked = config.picked
  await writeNodeFile(file, saved, remembered)
  return config as unknown as NodeConfig
}

/** The node's listen settings: what set each, and for a default the address an earlier run moved it to. */
export function nodeListenSettings (config: NodeConfig): { listen: ListenSetting, p2pListen: ListenSetting[] } {
  const prefer = (key: keyof PickedAddresses, address: string): number | undefined => {
    const picked = config.picked[key]
    if (picked == null || config.setBy[key] != null) return undefined
    const { port } = hostAndPort(picked)
    // only for the same host and form: a mode or default that changed since makes it stale
    return withPort(address, port) === picked ? port : undefined
  }
  return {
    listen: { key: 'listen', address: config.listen, setBy: config.setBy.listen, prefer: prefer('listen', config.listen) },
    p2pListen: config.p2pListen.map(address => ({ key: 'p2pListen', address, setBy: config.setBy.p2pListen, prefer: config.p2pListen.length === 1 ? prefer('p2pListen', address) : undefined }))
  }
}

/**
 * Remembers where taken defaults moved to (or forgets it when the default was free), so the next run tries the same
 * ports first and the gateway URL the main server knows stays the same across restarts.
 */
export async function rememberPicked (config: NodeConfig, bound: { listen: string, p2pListen?: string }): Promise<void> {
  const picked: PickedAddresses = {}
  if (config.setBy.listen == null && hostAndPort(config.listen).port !== 0 && bound.listen !== config.listen) picked.listen = bound.listen
  const [p2p] = config.p2pListen
  if (config.setBy.p2pListen == null && config.p2pListen.length === 1 && hostAndPort(p2p).port !== 0 && bound.p2pListen != null && bound.p2pListen !== p2p) picked.p2pListen = bound.p2pListen
  if (JSON.stringify(picked) === JSON.stringify(config.picked)) return
  const file = join(config.data, NODE_CONFIG_FILE)
  const saved = await readConfigFile(file)
  const { picked: _old, ...rest } = saved
  await writeNodeFile(file, saved, Object.keys(picked).length > 0 ? { ...rest, picked } : rest)
  config.picked = picked
}

function isPortKey (key: string): key is typeof PORT_KEYS[number] {
  return (PORT_KEYS as readonly string[]).includes(key)
}

/** node.json's `picked`, keeping only well-formed entries for settings that are still defaults. */
function pickedOf (raw: unknown, setBy: Partial<Record<string, string>>): PickedAddresses {
  const picked: PickedAddresses = {}
  if (raw == null || typeof raw !== 'object') return picked
  for (const key of PORT_KEYS) {
    const address = (raw as Record<string, unknown>)[key]
    if (typeof address !== 'string' || setBy[key] != null) continue
    try {
      hostAndPort(address)
      picked[key] = address
    } catch {
      // a hand-edited value that is not an address: simply not used
    }
  }
  return picked
}

/** Writes node.json when its content changes (write and rename, so a crash leaves the old or the new file). */
async function writeNodeFile (file: string, saved: Record<string, unknown>, next: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(next, null, 2) + '\n'
  if (JSON.stringify(saved, null, 2) + '\n' === text) return
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  await writeFile(`${file}.tmp`, text)
  await rename(`${file}.tmp`, file)
}
