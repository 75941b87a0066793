import { join } from 'node:path'
import test from 'ava'
import Database from 'better-sqlite3'
import { createCatalog, FIELD_NAMES } from '../../core/catalog/index.ts'
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from '../../core/catalog/data-source.ts'
import { silentLogger } from '../../core/logger.ts'
import { lockDataFolder } from '../../core/net/index.ts'
import { createPostgresDatabase, postgresServer, withClient } from '../helpers/postgres.ts'
import { cidcast } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { Catalog, MetadataFields } from '../../core/catalog/index.ts'

/*
 * `cidcast db migrate` and `cidcast db copy` run as a user runs them. The copy takes a SQLite catalog holding a row in
 * every table, awkward values included (emoji, the largest safe integers, doubles, booleans, nulls), to an empty
 * PostgreSQL database, and a catalog opened on each reads back the same through every repository; a target that is not
 * empty, a running server's catalog and a row PostgreSQL refuses each leave the target as it was.
 */

const PEER = '12D3KooWGzh8uWkvDpkLBVDTSdJ6uvZ8CW5Da2Jt3zKQdGsvW5Pd'
const ROOT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

/** A SQLite catalog in `<dir>/data` with a row in every table. */
async function seededDataFolder (): Promise<{ data: string, remove: () => Promise<void> }> {
  const dir = await tempDir('cidcast-db-copy-')
  const data = join(dir.path, 'data')
  const catalog = createCatalog({ logger: silentLogger() }, { database: join(data, 'catalog.sqlite') })
  await catalog.start()
  try {
    await seed(catalog)
  } finally {
    await catalog.stop()
  }
  return { data, remove: dir.remove }
}

async function seed (catalog: Catalog): Promise<void> {
  const { repositories: r } = catalog
  const titles = ['Émile 🎬 "quoted"', 'Movie 10', 'back\\slash\nnew line']
  for (const [i, title] of titles.entries()) {
    await catalog.upsertMedia({ id: `m${i}`.padEnd(16, '0'), sourceCid: `bafy-${i}`, path: `/srv/films/${title}.mkv`, title, durationSeconds: 596.458333 + i, sizeBytes: Number.MAX_SAFE_INTEGER - i, probe: { video: { codec: 'h264' }, i } })
  }
  const key = 'r'.repeat(64)
  await catalog.ensureRendition({ key, mediaId: 'm0'.padEnd(16, '0'), profile: '720p', fingerprint: 'x264', segmentCount: 2 })
  await catalog.setInit(key, 'bafkreiinit')
  await catalog.putSegment(key, 0, 'bafkreiseg0', 1_000_000)
  await catalog.putSegment(key, 1, 'bafkreiseg1', 999)
  await catalog.completeRendition(key, ROOT)
  await catalog.setProgress('u1', 'm1'.padEnd(16, '0'), 12.345678901234567)
  const fields = { ...Object.fromEntries(FIELD_NAMES.map(f => [f, null])), kind: 'episode', title: 'Pilot ☕', season: 1, episode: 1, locked: ['title'] } as unknown as MetadataFields
  const series = await r.metadata.putSeries('s'.repeat(16), { title: 'Show', year: 2020, ids: { tmdb: 42, imdb: 'tt0000042' }, folder: '/srv/tv/Show' })
  await r.metadata.putSeason(series.id, { number: 1, title: 'Season 1', overview: null, poster: null })
  await r.metadata.putCollection('c'.repeat(16), { title: 'Saga', tmdb: 7, poster: 'bafkreiposter', overview: 'ö' })
  await r.metadata.save('m0'.padEnd(16, '0'), { ...fields, series: series.id }, { folder: '/srv/tv/Show', source: 'path', identifiedAt: new Date(1_700_000_000_123) }, { actor: 'path', action: 'identify' })
  await r.metadata.save('m0'.padEnd(16, '0'), { ...fields, series: series.id, title: 'Pilot (edited)' }, { folder: '/srv/tv/Show', source: 'user' }, { actor: 'user', action: 'edit' })
  await r.metadata.putImage('https://image.example/p.jpg', 'bafkreiposter', 'image/jpeg', 12_345)
  await r.access.addUser({ id: 'a'.repeat(16), name: 'admin', role: 'admin', passwordHash: '$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA', folders: null, createdAtMs: 1, passwordChangedAtMs: 2 })
  await r.access.addUser({ id: 'b'.repeat(16), name: 'vera', role: 'viewer', passwordHash: '$scrypt$x', folders: ['/srv/films'], createdAtMs: 3, passwordChangedAtMs: 4 })
  await r.access.addToken({ id: 't'.repeat(16), userId: 'a'.repeat(16), kind: 'api', name: 'script', hash: 'f'.repeat(64), createdAtMs: 5, lastUsedAtMs: null, expiresAtMs: null })
  await r.invitations.add({ id: 'i'.repeat(16), secretHash: 'e'.repeat(64), name: null, mode: 'local', owner: 'vera', createdBy: 'a'.repeat(16), createdAtMs: 6, expiresAtMs: 7, spentAtMs: null, spentBy: null, revokedAtMs: null })
  await r.nodes.put({ peerId: PEER, name: 'Édge', label: 'edge', ipns: 'k51', mode: 'shared', url: 'http://127.0.0.1:9', addresses: ['/ip4/127.0.0.1/tcp/4001'], capacity: { quotaBytes: 2 ** 40, usedBytes: 1, freeBytes: 2 ** 40 - 1 }, health: null, pinned: [ROOT], lastSeenMs: 8, revokedAtMs: null, owner: null, region: 'eu', tags: ['ssd'], version: '0.1.0', createdAtMs: 9, updatedAtMs: 10 })
  await r.contentIndex.save([{ peerId: PEER, cid: ROOT, state: 'pinned', wanted: 'pin', orderId: 'o1', mediaId: 'm0'.padEnd(16, '0'), profile: '720p', auto: true, blocksDone: 3, bytesDone: 3 * 2 ** 20, blocksTotal: 3, bytesTotal: 3 * 2 ** 20, error: null, attempts: 1, retryAtMs: null, orderedAtMs: 11, reportedAtMs: 12, progressAtMs: null, createdAtMs: 13, updatedAtMs: 14 }], [])
  await r.goals.put({ cid: ROOT, min: 1, max: 2, mediaId: null, profile: null, excluded: [PEER], createdAtMs: 15, updatedAtMs: 16 })
  await r.preparations.add('m1'.padEnd(16, '0'), '360p', 'replicas 1:2')
}

/** Everything a catalog holds, read through its repositories. */
async function snapshot (catalog: Catalog): Promise<unknown> {
  const { repositories: r } = catalog
  const media = await catalog.listMedia({ sort: 'title' })
  return {
    media,
    renditions: await Promise.all(media.map(async m => await catalog.listRenditions(m.id))),
    segments: await catalog.listSegments('r'.repeat(64)),
    progress: await catalog.listProgress('u1'),
    metadata: await Promise.all(media.map(async m => await r.metadata.get(m.id))),
    audit: await r.metadata.audit('m0'.padEnd(16, '0')),
    series: await r.metadata.listSeries(),
    seasons: await r.metadata.seasons('s'.repeat(16)),
    collections: await r.metadata.listCollections(),
    image: await r.metadata.image('https://image.example/p.jpg'),
    users: await r.access.users(),
    tokens: await r.access.tokens(),
    invitations: await r.invitations.all(),
    nodes: await r.nodes.all(),
    contentIndex: await r.contentIndex.all(),
    goals: await r.goals.all(),
    preparations: await r.preparations.list()
  }
}

async function tables (url: string): Promise<string[]> {
  return await withClient(url, async client => (await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map(r => r.t))
}

test('db migrate applies the pending migrations and prints each; a second run has nothing to apply', async t => {
  const url = await createPostgresDatabase()
  const { password } = await postgresServer()
  const first = await cidcast('db', 'migrate', '--database', url)
  t.is(first.code, 0, first.stderr)
  const lines = first.stdout.trim().split('\n')
  t.is(lines[0], 'applied InitialSchema1764115200000')
  t.is(lines.filter(l => l.startsWith('applied ')).length, POSTGRES_MIGRATIONS.length)
  t.regex(lines.at(-1) ?? '', new RegExp(`^postgres://postgres@127\\.0\\.0\\.1:\\d+/cidcast_test_\\d+: ${POSTGRES_MIGRATIONS.length} migration\\(s\\) applied, up to date$`))
  t.false(first.stdout.includes(password))
  const second = await cidcast('db', 'migrate', '--database', url)
  t.regex(second.stdout, /^postgres:\/\/\S+ is up to date: nothing to apply\n$/)

  // SQLite by default: the data folder's catalog.sqlite
  const dir = await tempDir('cidcast-db-migrate-')
  t.teardown(dir.remove)
  const sqlite = await cidcast('db', 'migrate', '--data', dir.path)
  t.is(sqlite.code, 0, sqlite.stderr)
  t.true(sqlite.stdout.endsWith(`sqlite:${join(dir.path, 'catalog.sqlite')}: ${SQLITE_MIGRATIONS.length} migration(s) applied, up to date\n`))
})

test('db copy moves every table of a SQLite catalog to PostgreSQL, checked, and a catalog there reads the same', async t => {
  const { data, remove } = await seededDataFolder()
  t.teardown(remove)
  const url = await createPostgresDatabase()
  const run = await cidcast('db', 'copy', '--data', data, '--to', url)
  t.is(run.code, 0, run.stderr)
  t.log(run.stdout)
  t.regex(run.stdout, /^copying sqlite:\S+catalog\.sqlite to postgres:\/\/postgres@127\.0\.0\.1:\d+\/cidcast_test_\d+\n/)
  // parents before the tables that point at them
  const order = [...run.stdout.matchAll(/^(\w+): (\d+) rows, checksum [0-9a-f]{32} matches$/gm)].map(m => m[1])
  t.is(order.length, 19)
  t.true(order.indexOf('media') < order.indexOf('renditions') && order.indexOf('renditions') < order.indexOf('segments'))
  t.true(order.indexOf('users') < order.indexOf('access_tokens') && order.indexOf('series') < order.indexOf('media_metadata'))
  t.regex(run.stdout, /^copied 19 tables, \d+ rows to \S+: every row count and checksum matches$/m)
  t.regex(run.stdout, /now set database to that URL/)
  t.false(run.stdout.includes((await postgresServer()).password))

  const before = createCatalog({ logger: silentLogger() }, { database: join(data, 'catalog.sqlite') })
  const after = createCatalog({ logger: silentLogger() }, { database: url })
  await before.start()
  await after.start()
  t.teardown(async () => { await before.stop(); await after.stop() })
  t.deepEqual(await snapshot(after), await snapshot(before))
  // the audit trail's ids go on after the copied ones
  await after.repositories.metadata.save('m1'.padEnd(16, '0'), { ...Object.fromEntries(FIELD_NAMES.map(f => [f, null])), kind: 'movie', title: 'New', locked: [] } as unknown as MetadataFields, { folder: '/', source: 'path' }, { actor: 'path', action: 'identify' })
  t.deepEqual((await after.repositories.metadata.audit('m1'.padEnd(16, '0'))).map(a => a.id), [3])
})

test('db copy refuses a target that is not empty and a running server\'s catalog, leaving both as they were', async t => {
  const { data, remove } = await seededDataFolder()
  t.teardown(remove)
  const used = await createPostgresDatabase()
  await withClient(used, async client => { await client.query('CREATE TABLE notes (n text); INSERT INTO notes VALUES (\'keep me\')') })
  const full = await cidcast('db', 'copy', '--data', data, '--to', used)
  t.is(full.code, 1)
  t.regex(full.stderr, /^error: DatabaseNotEmptyError: postgres:\/\/postgres@\S+ is not empty \(it holds notes\): db copy fills only an empty database/)
  t.deepEqual(await tables(used), ['notes'])

  const empty = await createPostgresDatabase()
  const release = await lockDataFolder(data)
  try {
    const locked = await cidcast('db', 'copy', '--data', data, '--to', empty)
    t.is(locked.code, 1)
    t.regex(locked.stderr, /^error: DataFolderLockedError: the data folder \S+ is in use by process \d+/)
  } finally {
    await release()
  }
  t.deepEqual(await tables(empty), [])
  const bad = await cidcast('db', 'copy', '--data', data, '--to', 'sqlite:/tmp/x.sqlite')
  t.regex(bad.stderr, /^error: InvalidConfigError: db copy copies to PostgreSQL/)
  const none = await cidcast('db', 'copy', '--data', join(data, 'nowhere'), '--to', empty)
  t.regex(none.stderr, /^error: PathNotFoundError: no SQLite catalog at \S+nowhere\/catalog\.sqlite/)
})

test('a row PostgreSQL refuses part way through rolls the whole copy back: the target stays empty', async t => {
  const { data, remove } = await seededDataFolder()
  t.teardown(remove)
  // SQLite does not hold varchar(16) to its length; PostgreSQL does: the users table copies after media and others
  const db = new Database(join(data, 'catalog.sqlite'))
  db.prepare("INSERT INTO users (id, name, role, password_hash, created_at, password_changed_at) VALUES ('an-id-far-longer-than-sixteen', 'x', 'viewer', 'h', 1, 1)").run()
  db.close()
  const url = await createPostgresDatabase()
  const run = await cidcast('db', 'copy', '--data', data, '--to', url)
  t.is(run.code, 1)
  t.regex(run.stderr, /^error: QueryFailedError: value too long for type character varying\(16\)\n$/)
  t.regex(run.stdout, /^media: 3 rows, checksum/m, 'tables before it were copied and checked...')
  t.deepEqual(await tables(url), [], '...and rolled back with the rest')
})
