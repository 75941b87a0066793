import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { createAccounts } from '../../core/access/index.ts'
import { createCatalog } from '../../core/catalog/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { fixture } from '../../fixtures/media.ts'
import { startTestServer } from '../helpers/server.ts'
import { cidcast } from '../helpers/spawn.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<TestServer>

test.before(async t => {
  t.context = await startTestServer()
})

test.after.always(async t => {
  await t.context.stop?.()
})

test('init writes a Kubo-format swarm key and the first admin, prints the admin\'s password once, and refuses to overwrite them', async t => {
  const data = join(t.context.dir, 'init')
  const first = await cidcast('init', '--data', data)
  t.is(first.code, 0, first.stderr)
  t.regex(await readFile(join(data, 'swarm.key'), 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n?$/)
  t.regex(first.stdout, /\nadmin user: admin\nadmin password: [A-Za-z0-9]{20}\n$/)
  const password = /admin password: (\S+)/.exec(first.stdout)?.[1] ?? ''
  const catalog = createCatalog({ logger: silentLogger() }, { database: join(data, 'catalog.sqlite') })
  await catalog.start()
  const session = await createAccounts({ repository: catalog.repositories.access, logger: silentLogger() }).login('admin', password)
  await catalog.stop()
  t.is(session.user.role, 'admin')
  const second = await cidcast('init', '--data', data)
  t.not(second.code, 0)
  t.is(second.stderr.trim().split('\n').length, 1)
  t.regex(second.stderr, /SwarmKeyExistsError/)
  t.false(second.stdout.includes('admin password'))
})

test('add prints one line per file and fails with one line per bad file', async t => {
  const good = await fixture('odd-854x480-6s')
  const named = join(t.context.dir, '-leading dash.mp4')
  await copyFile(good, named)
  const bad = await fixture('not-media.mp4')
  const res = await cidcast('add', good, named, bad, '--server', t.context.server.url)
  t.is(res.code, 1)
  const lines = res.stdout.trim().split('\n')
  t.is(lines.length, 2)
  t.regex(lines[0], /^added [0-9a-f]{16} /)
  t.true(lines[1].endsWith(named))
  t.is(res.stderr.trim().split('\n').length, 1)
  t.regex(res.stderr, /InvalidMediaError/)
  t.false(res.stderr.includes('    at '))
})

test('add says in one line when the server cannot be reached', async t => {
  const res = await cidcast('add', await fixture('odd-854x480-6s'), '--server', 'http://127.0.0.1:1')
  t.is(res.code, 1)
  t.regex(res.stderr, /ServerUnreachableError/)
})

test('every verb has --help', async t => {
  for (const verb of ['init', 'server', 'add', 'ls']) {
    const res = await cidcast(verb, '--help')
    t.is(res.code, 0, verb)
    t.regex(res.stdout, /Usage: cidcast/)
  }
})
