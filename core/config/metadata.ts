import { join } from 'node:path'
import { InvalidConfigError } from '../errors.ts'
import { CONFIG_FILE, keysOf, PROVIDER_NAMES } from './keys.ts'
import { readConfigFile, readSettings } from './read.ts'
import type { MetadataConfig } from '../metadata/index.ts'
import type { ProviderName } from './keys.ts'

/**
 * Reads the metadata settings: environment (CIDCAST_*) > `<data>/config.json` > defaults (they have no flags). A
 * provider is enabled by its key; with no key at all the library still works from paths and NFO files. Base URLs
 * and image hosts default to the real services and are configurable so tests can point them at a local stub. Bad
 * values, and a config.json that is not a JSON object, are refused naming the key (and the file).
 */
export async function loadMetadataConfig (data: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<MetadataConfig> {
  const path = data == null ? '' : join(data, CONFIG_FILE)
  const file = data == null ? {} : await readConfigFile(path)
  const settings = readSettings(keysOf('metadata'), { flags: {}, env, file, path })
  const get = <T>(key: string): T => settings[key]?.value as T
  const order = get<string[]>('metadataProviders')
  for (const name of order) if (!PROVIDER_NAMES.includes(name as ProviderName)) throw new InvalidConfigError(`metadataProviders: unknown provider ${JSON.stringify(name)} (known: ${PROVIDER_NAMES.join(', ')})`)
  const language = get<string>('metadataLanguage')
  if (!/^[a-z]{2}(?:-[A-Z]{2})?$/.test(language)) throw new InvalidConfigError('metadataLanguage must look like en or en-US')
  return {
    providers: [...new Set(order)] as ProviderName[],
    keys: { tmdb: get('tmdbKey'), tvdb: get('tvdbKey'), tvdbPin: get('tvdbPin'), omdb: get('omdbKey') },
    urls: { tmdb: get('tmdbUrl'), tmdbImages: get('tmdbImageUrl'), tvdb: get('tvdbUrl'), omdb: get('omdbUrl') },
    imageHosts: { tvdb: get('tvdbImageHosts'), omdb: get('omdbImageHosts') },
    language,
    writeNfo: get('writeNfo'),
    fetchImages: get('fetchImages')
  }
}
