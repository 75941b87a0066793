import { appendFile, copyFile, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { createHeliaLight } from 'helia'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createMetadata } from '../../../core/metadata/config.ts'
import { mediaId } from '../../../core/media/library.ts'
import { STUB_KEYS, startProviderStub } from '../../../fixtures/providers/stub-server.ts'
import { testDatabase } from '../../helpers/database.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { Catalog, MediaRecord } from '../../../core/catalog/catalog.ts'
import type { MetadataConfig } from '../../../core/metadata/config.ts'
import type { MetadataService } from '../../../core/metadata/service.ts'
import type { ProviderStub } from '../../../fixtures/providers/stub-server.ts'
import type { Helia } from '@helia/interface'
import type { ExecutionContext } from 'ava'

export interface MetadataWorld {
  dir: string
  catalog: Catalog
  helia: Helia
  stub: ProviderStub
  metadata: MetadataService
  /** Records a media at `path` (relative to `dir`) and runs the add-time hook, as the library does. */
  add: (path: string) => Promise<MediaRecord>
  /** Writes a file under `dir`. */
  write: (path: string, text: string | Uint8Array) => Promise<string>
}

/** Metadata settings pointing at the stub, with its 127.0.0.1 image host allowed (test only). */
export function stubConfig (stub: ProviderStub, overrides: Partial<MetadataConfig> = {}): MetadataConfig {
  return {
    providers: ['tmdb', 'tvdb', 'omdb'],
    keys: { tmdb: STUB_KEYS.tmdb, tvdb: STUB_KEYS.tvdb, omdb: STUB_KEYS.omdb },
    urls: { tmdb: stub.tmdbUrl, tmdbImages: stub.tmdbImageUrl, tvdb: stub.tvdbUrl, omdb: stub.omdbUrl },
    imageHosts: { tvdb: [stub.host], omdb: [stub.host] },
    language: 'en-US',
    writeNfo: false,
    fetchImages: true,
    http: { backoffMs: 10, timeoutMs: 2000, retries: 1 },
    images: { allowAddresses: ['127.0.0.1'], allowHttp: true },
    ...overrides
  }
}

/** A catalog, a Helia node, the provider stub and a metadata service on them; all stopped at teardown. */
export async function metadataWorld (t: ExecutionContext, settings: Partial<MetadataConfig> | ((dir: string) => Partial<MetadataConfig>) = {}): Promise<MetadataWorld> {
  const logger = silentLogger()
  const tmp = await tempDir('cidcast-metadata-')
  t.teardown(tmp.remove)
  // a database of the test process's dialect (service.pg.test.ts runs the service's tests on PostgreSQL)
  const { database, remove } = await testDatabase()
  t.teardown(remove)
  const catalog = createCatalog({ logger }, { database })
  await catalog.start()
  t.teardown(async () => { await catalog.stop() })
  const helia = createHeliaLight({})
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  const stub = await startProviderStub()
  t.teardown(stub.stop)
  const dir = join(tmp.path, 'library')
  const overrides = typeof settings === 'function' ? settings(dir) : settings
  const metadata = createMetadata({ logger, catalog, unixfs: unixfs(helia), pins: helia.pins }, stubConfig(stub, overrides))
  await metadata.start()
  // registered last, so it runs first: background work ends before the catalog closes
  t.teardown(async () => { await metadata.stop() })
  return {
    dir,
    catalog,
    helia,
    stub,
    metadata,
    add: async path => {
      const full = join(dir, path)
      const { media, created } = await catalog.upsertMedia({ id: mediaId(`bafy-${full}`), sourceCid: `bafy-${full}`, path: full, title: full, durationSeconds: 60, sizeBytes: 1, probe: {} })
      await metadata.added(media, created)
      return media
    },
    write: async (path, text) => {
      const full = join(dir, path)
      await mkdir(dirname(full), { recursive: true })
      await writeFile(full, text)
      return full
    }
  }
}

/** Copies a media fixture to `path` with a unique MP4 `free` box appended, so each copy has its own bytes (and media id). */
export async function placeClip (source: string, path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true })
  await copyFile(source, path)
  const note = Buffer.from(path)
  const box = Buffer.alloc(8)
  box.writeUInt32BE(8 + note.length, 0)
  box.write('free', 4, 'ascii')
  await appendFile(path, Buffer.concat([box, note]))
  return path
}
