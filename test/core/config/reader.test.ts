import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { CONFIG_FILE, loadMetadataConfig, loadNodeConfig, loadServerConfig, NODE_CONFIG_FILE } from '../../../core/config/index.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ dir: string, remove: () => Promise<void> }>

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-config-')
  t.context = { dir: dir.path, remove: dir.remove }
})
test.afterEach.always(async t => { await t.context.remove() })

test('the main server takes a flag before the environment, the environment before config.json, config.json before the default', async t => {
  const { dir } = t.context
  const path = join(dir, CONFIG_FILE)
  await writeFile(path, JSON.stringify({ listen: '127.0.0.1:3', dnsListen: '127.0.0.1:33', dnsZone: 'file.example' }))
  const env = { CIDCAST_LISTEN: '127.0.0.1:2', CIDCAST_DNS_LISTEN: '127.0.0.1:22' }
  const config = await loadServerConfig({ data: dir, listen: '127.0.0.1:1' }, env)
  t.like(config, { listen: '127.0.0.1:1', dnsListen: '127.0.0.1:22', dnsZone: 'file.example', logLevel: 'info' })
  t.deepEqual(config.setBy, { listen: '--listen', dnsListen: 'CIDCAST_DNS_LISTEN', dnsZone: `dnsZone in ${path}` })
  t.like(config.settings, { listen: { source: 'flag' }, dnsListen: { source: 'env' }, dnsZone: { source: 'file' }, logLevel: { source: 'default' } })
})

test('a CDN node takes a flag before the environment, the environment before node.json, node.json before the default', async t => {
  const data = join(t.context.dir, 'node')
  const path = join(data, NODE_CONFIG_FILE)
  await loadNodeConfig({ data, name: 'n', fallback: 'redirect', pinFrom: 'p2p', url: 'http://127.0.0.1:9/' }, {})
  const config = await loadNodeConfig({ data, fallback: 'peer' }, { CIDCAST_NODE_PIN_FROM: 'any' })
  t.like(config, { fallback: 'peer', pinFrom: 'any', url: 'http://127.0.0.1:9', mode: 'shared' })
  t.like(config.setBy, { fallback: '--fallback', pinFrom: 'CIDCAST_NODE_PIN_FROM', url: `url in ${path}` })
  t.is(config.setBy.mode, `mode in ${path}`, 'the first run remembered the default mode')
  t.like(config.settings, { fallback: { source: 'flag' }, pinFrom: { source: 'env' }, url: { source: 'file' }, logLevel: { source: 'default' } })
})

test('metadata takes the environment before config.json, config.json before the default', async t => {
  const { dir } = t.context
  await writeFile(join(dir, CONFIG_FILE), JSON.stringify({ tmdbKey: 'file', omdbKey: 'file-omdb' }))
  const config = await loadMetadataConfig(dir, { CIDCAST_TMDB_KEY: 'env' })
  t.like(config, { keys: { tmdb: 'env', omdb: 'file-omdb', tvdb: undefined }, language: 'en-US', fetchImages: true })
})

test('a config.json or node.json that is not a JSON object is refused naming the file', async t => {
  const { dir } = t.context
  const node = join(dir, 'node')
  for (const text of ['{ "listen": ', '[]', '"text"', 'null']) {
    await writeFile(join(dir, CONFIG_FILE), text)
    const message = new RegExp(`${join(dir, CONFIG_FILE)} is not a JSON object`)
    await t.throwsAsync(loadServerConfig({ data: dir }, {}), { name: 'InvalidConfigError', message }, text)
    await t.throwsAsync(loadMetadataConfig(dir, {}), { name: 'InvalidConfigError', message }, `metadata: ${text}`)
    await loadNodeConfig({ data: node, name: 'n' }, {}).catch(() => {})
    await writeFile(join(node, NODE_CONFIG_FILE), text)
    await t.throwsAsync(loadNodeConfig({ data: node }, {}), { name: 'InvalidConfigError', message: new RegExp(`${join(node, NODE_CONFIG_FILE)} is not a JSON object`) }, `node: ${text}`)
  }
})

test('a key of the wrong type in a file is refused naming the file and the key', async t => {
  const { dir } = t.context
  const path = join(dir, CONFIG_FILE)
  const cases: Array<[Record<string, unknown>, 'server' | 'metadata', string]> = [
    [{ listen: 8080 }, 'server', 'listen'],
    [{ p2pListen: '/ip4/1.2.3.4/udp/1' }, 'server', 'p2pListen'],
    [{ heartbeatSeconds: '15s' }, 'server', 'heartbeatSeconds'],
    [{ library: [1] }, 'server', 'library'],
    [{ fetchImages: 'maybe' }, 'metadata', 'fetchImages'],
    [{ tmdbKey: 42 }, 'metadata', 'tmdbKey']
  ]
  for (const [file, program, key] of cases) {
    await writeFile(path, JSON.stringify(file))
    const load = program === 'server' ? loadServerConfig({ data: dir }, {}) : loadMetadataConfig(dir, {})
    const err = await t.throwsAsync(load, { name: 'InvalidConfigError' }, JSON.stringify(file))
    t.true(err?.message.startsWith(`${path}: ${key}`), err?.message)
  }
  const node = join(dir, 'node')
  await loadNodeConfig({ data: node, name: 'n' }, {})
  await writeFile(join(node, NODE_CONFIG_FILE), JSON.stringify({ name: 'n', quotaBytes: -1 }))
  const err = await t.throwsAsync(loadNodeConfig({ data: node }, {}), { name: 'InvalidConfigError' })
  t.true(err?.message.startsWith(`${join(node, NODE_CONFIG_FILE)}: quotaBytes`), err?.message)
})

test('keys that nothing reads are named with their file in warnings, and metadata keys are known to config.json', async t => {
  const { dir } = t.context
  const path = join(dir, CONFIG_FILE)
  await writeFile(path, JSON.stringify({ listne: '127.0.0.1:1', tmdbKey: 'k', logLevel: 'warn' }))
  t.deepEqual((await loadServerConfig({ data: dir }, {})).warnings, [`${path}: unknown key "listne" is ignored`])
  const node = join(dir, 'node')
  await loadNodeConfig({ data: node, name: 'n' }, {})
  const saved = join(node, NODE_CONFIG_FILE)
  await writeFile(saved, JSON.stringify({ name: 'n', picked: { listen: '0.0.0.0:8090' }, dnsZone: 'x' }))
  t.deepEqual((await loadNodeConfig({ data: node }, {})).warnings, [`${saved}: unknown key "dnsZone" is ignored`])
})

test('a node\'s cache settings take sizes, are remembered, stay within the quota and are refused naming the key', async t => {
  const node = join(t.context.dir, 'node')
  const config = await loadNodeConfig({ data: node, name: 'n', quotaBytes: '50GiB', cacheBytes: '1.5 GiB' }, { CIDCAST_READ_AHEAD_SEGMENTS: '0', CIDCAST_CACHE_MIN_LIFETIME_SECONDS: '60' })
  t.is(config.quotaBytes, 50 * 2 ** 30)
  t.is(config.cacheBytes, 1.5 * 2 ** 30)
  t.is(config.readAheadSegments, 0)
  t.is(config.cacheMinLifetimeSeconds, 60)
  const again = await loadNodeConfig({ data: node }, {})
  t.is(again.cacheBytes, 1.5 * 2 ** 30, 'remembered in node.json')
  t.is(again.readAheadSegments, 3)
  t.is(again.cacheMinLifetimeSeconds, 3600)
  t.is((await loadNodeConfig({ data: node }, { CIDCAST_CACHE_SIZE: '500MB' })).cacheBytes, 500_000_000)
  const refused: Array<[Record<string, string>, string]> = [
    [{ CIDCAST_CACHE_SIZE: '60GiB' }, 'cacheBytes'],
    [{ CIDCAST_CACHE_SIZE: '10 parsecs' }, 'cacheBytes'],
    [{ CIDCAST_READ_AHEAD_SEGMENTS: '31' }, 'readAheadSegments'],
    [{ CIDCAST_CACHE_MIN_LIFETIME_SECONDS: '-1' }, 'cacheMinLifetimeSeconds']
  ]
  for (const [env, key] of refused) {
    const err = await t.throwsAsync(loadNodeConfig({ data: node }, env), { name: 'InvalidConfigError' }, key)
    t.regex(err?.message ?? '', new RegExp(key), JSON.stringify(env))
  }
})
