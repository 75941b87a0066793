import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { silentLogger } from '../../../core/logger.ts'
import { loadMetadataConfig } from '../../../core/config/index.ts'
import { createProviders } from '../../../core/metadata/config.ts'
import { tempDir } from '../../helpers/tmp.ts'

test('with no keys no provider is enabled and the real hosts are the defaults', async t => {
  const config = await loadMetadataConfig(undefined, {})
  t.like(config, { providers: ['tmdb', 'tvdb', 'omdb'], keys: { tmdb: undefined, tvdb: undefined, omdb: undefined }, writeNfo: false, fetchImages: true, language: 'en-US' })
  t.deepEqual(createProviders({ logger: silentLogger() }, config), [])
  const all = createProviders({ logger: silentLogger() }, { ...config, keys: { tmdb: 'a', tvdb: 'b', omdb: 'c' } })
  t.deepEqual(all.map(p => p.name), ['tmdb', 'tvdb', 'omdb'])
  t.deepEqual(all.map(p => p.imageHosts), [['image.tmdb.org'], ['artworks.thetvdb.com'], ['m.media-amazon.com']])
})

test('keys, order, URLs and NFO writing come from the environment before config.json', async t => {
  const dir = await tempDir('cidcast-metadata-config-')
  t.teardown(dir.remove)
  await mkdir(dir.path, { recursive: true })
  await writeFile(join(dir.path, 'config.json'), JSON.stringify({ tmdbKey: 'from-file', omdbKey: 'omdb-file', writeNfo: ['/srv/movies'], metadataProviders: ['omdb', 'tmdb'] }))
  const config = await loadMetadataConfig(dir.path, { CIDCAST_TMDB_KEY: 'from-env', CIDCAST_TMDB_URL: 'http://127.0.0.1:9/3', CIDCAST_TVDB_IMAGE_HOSTS: 'img.example:8443' })
  t.like(config, { keys: { tmdb: 'from-env', omdb: 'omdb-file' }, urls: { tmdb: 'http://127.0.0.1:9/3' }, imageHosts: { tvdb: ['img.example:8443'] }, writeNfo: ['/srv/movies'], providers: ['omdb', 'tmdb'] })
  t.deepEqual(createProviders({ logger: silentLogger() }, config).map(p => p.name), ['omdb', 'tmdb'])
  t.is((await loadMetadataConfig(undefined, { CIDCAST_WRITE_NFO: 'yes' })).writeNfo, true)
})

test('bad values are refused with a message naming the key', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CIDCAST_METADATA_PROVIDERS: 'tmdb,imdb' }, /metadataProviders: unknown provider "imdb"/],
    [{ CIDCAST_TMDB_URL: 'file:///etc/passwd' }, /tmdbUrl must be an http\(s\) URL/],
    [{ CIDCAST_WRITE_NFO: 'relative/folder' }, /writeNfo: .* is not an absolute folder/],
    [{ CIDCAST_FETCH_IMAGES: 'maybe' }, /fetchImages must be true or false/],
    [{ CIDCAST_TVDB_IMAGE_HOSTS: 'http://x/' }, /tvdbImageHosts: .* is not a host/],
    [{ CIDCAST_METADATA_LANGUAGE: 'english' }, /metadataLanguage/],
    [{ CIDCAST_TMDB_KEY: 'has space' }, /tmdbKey/]
  ]
  for (const [env, message] of cases) await t.throwsAsync(loadMetadataConfig(undefined, env), { name: 'InvalidConfigError', message }, JSON.stringify(env))
})

test('the test-only image allow-list is never read from the environment or the config file', async t => {
  const dir = await tempDir('cidcast-metadata-config-')
  t.teardown(dir.remove)
  await writeFile(join(dir.path, 'config.json'), JSON.stringify({ images: { allowAddresses: ['127.0.0.1'], allowHttp: true }, allowAddresses: ['127.0.0.1'] }))
  const config = await loadMetadataConfig(dir.path, { CIDCAST_IMAGE_ALLOW_ADDRESSES: '127.0.0.1', CIDCAST_ALLOW_ADDRESSES: '127.0.0.1' })
  t.is(config.images, undefined)
})
