/*
 * core/config: every program's settings from one table of keys (keys.ts) and one reader (read.ts): flags >
 * environment > the program's file (`<data>/config.json`, a node's `<data>/node.json`) > defaults, each value parsed
 * once and kept with where it came from. Other folders import this file only.
 */

export { CATALOG_FILE, CONFIG_FILE, CONFIG_KEYS, DEFAULT_DATA, DEFAULT_NODE_DATA, DEFAULT_SERVER_URL, defaultOf, FALLBACK_MODES, keysOf, NODE_CONFIG_FILE, NODE_MODES, PIN_FROM, PROVIDER_NAMES } from './keys.ts'
export type { ConfigKey, Program, ProviderName } from './keys.ts'
export { readConfigFile, readSettings } from './read.ts'
export type { Setting, Source } from './read.ts'
export { byteSize, LOG_FORMATS, LOG_LEVELS, parseDnsName, parseLogFormat, parseTcpMultiaddrs } from './parse.ts'
export type { Parse } from './parse.ts'
export { DISTRIBUTION_DEFAULTS, EVICTION_VALUES, parseDistribution } from './distribution.ts'
export type { DistributionSettings, EvictionValue } from './distribution.ts'
export { loadServerConfig } from './server.ts'
export type { ServerConfig } from './server.ts'
export { loadNodeConfig, nodeListenSettings, rememberPicked } from './node.ts'
export type { NodeConfig, NodeDefaults, PickedAddresses } from './node.ts'
export { loadMetadataConfig } from './metadata.ts'
export { generateSwarmKey, parseSwarmKey, readSwarmKey, SWARM_KEY_BYTES, SWARM_KEY_ENCODING, SWARM_KEY_FILE, SWARM_KEY_HEADER, writeSwarmKey } from './swarm-key.ts'
export type { WriteSwarmKeyOptions } from './swarm-key.ts'
