import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { CONFIG_FILE, loadServerConfig } from '../../../core/config/index.ts'
import { describeDatabase, parseDatabase } from '../../../core/database-url.ts'
import { tempDir } from '../../helpers/tmp.ts'

/* The main server's `database` setting (core/database-url.ts): SQLite by default, PostgreSQL by URL, never a password shown. */

test('the database is the data folder\'s catalog.sqlite unless a flag, the environment or config.json says otherwise', async t => {
  const dir = await tempDir('cidcast-config-')
  t.teardown(dir.remove)
  t.like(await loadServerConfig({ data: dir.path }, {}), { database: `sqlite:${join(dir.path, 'catalog.sqlite')}` })
  t.is((await loadServerConfig({ data: dir.path }, {})).settings.database.source, 'default')
  await writeFile(join(dir.path, CONFIG_FILE), JSON.stringify({ database: 'postgres://cidcast:pw@db.example:5432/cidcast' }))
  t.like(await loadServerConfig({ data: dir.path }, {}), { database: 'postgres://cidcast:pw@db.example:5432/cidcast' })
  const env = { CIDCAST_DATABASE: 'sqlite:relative/catalog.db' }
  t.like(await loadServerConfig({ data: dir.path }, env), { database: `sqlite:${join(process.cwd(), 'relative/catalog.db')}` })
  const flagged = await loadServerConfig({ data: dir.path, database: 'postgresql://u@/cidcast?host=/run/postgresql' }, env)
  t.is(flagged.database, 'postgresql://u@/cidcast?host=/run/postgresql')
  t.is(flagged.setBy.database, '--database')
})

test('a setting is parsed into its dialect; a bare path and :memory: are SQLite', t => {
  t.deepEqual(parseDatabase('sqlite:/srv/c.sqlite'), { dialect: 'sqlite', path: '/srv/c.sqlite' })
  t.deepEqual(parseDatabase('/srv/c.sqlite'), { dialect: 'sqlite', path: '/srv/c.sqlite' })
  t.deepEqual(parseDatabase(':memory:'), { dialect: 'sqlite', path: ':memory:' })
  t.deepEqual(parseDatabase('POSTGRES://u:p@h:1/d'), { dialect: 'postgres', url: 'POSTGRES://u:p@h:1/d' })
  t.is(describeDatabase(parseDatabase('postgres://cidcast:s3cret@db.example:5433/media?sslmode=require&password=x')), 'postgres://cidcast@db.example:5433/media')
  t.is(describeDatabase(parseDatabase('sqlite:/srv/c.sqlite')), 'sqlite:/srv/c.sqlite')
})

test('a bad database setting is refused at start naming the key and never the password', async t => {
  const dir = await tempDir('cidcast-config-')
  t.teardown(dir.remove)
  const bad = [
    ['mysql://root:hunter2@db/cidcast', /database must be sqlite:<path> or postgres:\/\/.*mysql:\/\/root:\*\*\*@db\/cidcast/],
    ['postgres://cidcast:hunter2@/cidcast', /database needs a host/],
    ['postgres://cidcast:hunter2@db.example:5432', /database needs one database name/],
    ['postgres://cidcast:hunter2@db.example:5432/a/b', /database needs one database name/],
    ['postgres://cidcast:hunter2@db.example:99999/cidcast', /database is not a valid postgres:\/\/ URL \(got "postgres:\/\/cidcast:\*\*\*@db\.example:99999\/cidcast"\)/],
    ['sqlite:', /database: sqlite: needs a file path/],
    ['', /database must be sqlite:<path>/]
  ] as const
  for (const [value, message] of bad) {
    const err = await t.throwsAsync(loadServerConfig({ data: dir.path }, { CIDCAST_DATABASE: value }), { name: 'InvalidConfigError' })
    t.regex(err?.message ?? '', message, value)
    t.notRegex(err?.message ?? '', /hunter2/, value)
  }
  // a bad value in config.json is refused naming the file and the key
  await writeFile(join(dir.path, CONFIG_FILE), JSON.stringify({ database: 'postgres://cidcast:hunter2@db.example' }))
  const err = await t.throwsAsync(loadServerConfig({ data: dir.path }, {}), { name: 'InvalidConfigError' })
  t.regex(err?.message ?? '', /config\.json: database needs one database name .*postgres:\/\/cidcast@db\.example/)
  t.notRegex(err?.message ?? '', /hunter2/)
})
