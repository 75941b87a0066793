import { existsSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { createPostgresDatabase, postgresServer, withClient } from '../helpers/postgres.ts'
import { CLI, cidcast, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'

/*
 * `cidcast server --database postgres://...` as a user runs it: the catalog in PostgreSQL (nothing in the data
 * folder's catalog.sqlite), media added and listed through the API, and the database's password in no log line, even
 * at debug level; a bad or unreachable database stops the start with one line that names it without the password.
 */

test('the main server keeps its catalog in PostgreSQL given --database, and its password is in no log line', async t => {
  const database = await createPostgresDatabase()
  const { password } = await postgresServer()
  const dir = await tempDir('cidcast-server-pg-')
  t.teardown(dir.remove)
  const data = join(dir.path, 'data')
  const daemon = runNode([CLI, 'server', '--data', data, '--database', database, '--log-level', 'debug', '--log-format', 'json'], { CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', CIDCAST_LOG_LEVEL: 'debug' })
  t.teardown(() => { daemon.child.kill('SIGKILL') })
  await waitFor(() => /^admin password: \S+$/m.test(daemon.stdout()), 60_000, `the admin password (stderr: ${daemon.stderr()})`)
  const url = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(daemon.stdout())?.[1] ?? ''
  const adminPassword = /^admin password: (\S+)$/m.exec(daemon.stdout())?.[1] ?? ''
  const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) })
  const { token } = await login.json() as { token: string }
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }
  const added = await fetch(`${url}/api/v1/media`, { method: 'POST', headers, body: JSON.stringify({ path: await fixture('h264-aac-10s') }) })
  t.is(added.status, 201)
  const { id } = await added.json() as { id: string }
  const listed = await (await fetch(`${url}/api/v1/media`, { headers })).json() as { items: Array<{ id: string }>, total: number }
  t.deepEqual(listed.items.map(m => m.id), [id])
  t.is((await fetch(`${url}/api/v1/media/${id}`, { headers })).status, 200)

  // the rows are in PostgreSQL, and there is no SQLite catalog
  t.deepEqual(await withClient(database, async client => (await client.query('SELECT id FROM media')).rows), [{ id }])
  t.is(await withClient(database, async client => (await client.query<{ n: string }>('SELECT count(*) AS n FROM users')).rows[0].n), '1')
  t.false(existsSync(join(data, 'catalog.sqlite')))

  daemon.child.kill('SIGTERM')
  t.is(await daemon.exited, 0)
  const lines = daemon.stdout().split('\n').filter(line => line.startsWith('{'))
  const open = lines.map(line => JSON.parse(line) as { msg?: string, dialect?: string, database?: string }).find(entry => entry.msg === 'catalog open')
  t.like(open, { dialect: 'postgres', database: database.replace(`:${password}@`, '@') })
  t.true(lines.length > 10)
  t.false((daemon.stdout() + daemon.stderr()).includes(password), 'the database password is printed nowhere')
})

test('a bad or unreachable database stops the server at start with one line naming it, never the password', async t => {
  const dir = await tempDir('cidcast-server-pg-')
  t.teardown(dir.remove)
  const env = { CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_DNS_LISTEN: '127.0.0.1:0' }
  const server = await postgresServer()
  const cases = [
    ['mysql://root:Hunter2-pw@db.example/cidcast', /^error: InvalidConfigError: database must be sqlite:<path> or postgres:\/\/.*root:\*\*\*@db\.example/],
    ['postgres://cidcast:Hunter2-pw@127.0.0.1:1/cidcast', /^error: CatalogUnavailableError: cannot open the catalog's database postgres:\/\/cidcast@127\.0\.0\.1:1\/cidcast: connect ECONNREFUSED/],
    [`postgres://postgres:Hunter2-pw@127.0.0.1:${server.port}/postgres`, /^error: CatalogUnavailableError: cannot open the catalog's database .*: password authentication failed for user "postgres"$/]
  ] as const
  for (const [database, message] of cases) {
    const daemon = runNode([CLI, 'server', '--data', join(dir.path, 'data')], { ...env, CIDCAST_DATABASE: database, CIDCAST_FROM_SOURCE: '1' })
    t.teardown(() => { daemon.child.kill('SIGKILL') })
    t.is(await daemon.exited, 1, database)
    const lines = daemon.stderr().trim().split('\n')
    t.regex(lines.at(-1) ?? '', message)
    t.false((daemon.stdout() + daemon.stderr()).includes('Hunter2-pw'))
  }
  // the flag as the environment, through `cidcast` itself
  const run = await cidcast('server', '--data', join(dir.path, 'data'), '--database', 'postgres://cidcast:Hunter2-pw@127.0.0.1:1/cidcast', '--listen', '127.0.0.1:0', '--dns-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0')
  t.is(run.code, 1)
  t.regex(run.stderr, /CatalogUnavailableError/)
  t.false((run.stdout + run.stderr).includes('Hunter2-pw'))
})
