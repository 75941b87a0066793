import test from 'ava'
import { createAccounts, createLoginLimiter, hashPassword, verifyPassword } from '../../../core/access/index.ts'
import { createCatalog } from '../../../core/catalog/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { manualClock } from '../../helpers/clock.ts'
import { testDatabase } from '../../helpers/database.ts'
import type { Accounts } from '../../../core/access/index.ts'
import type { Catalog } from '../../../core/catalog/index.ts'
import type { ManualClock } from '../../helpers/clock.ts'
import type { ExecutionContext } from 'ava'

// the lowest cost verifyPassword accepts: these tests are about accounts, not scrypt's cost
const COST = { ln: 10, r: 8, p: 1 }

async function open (t: ExecutionContext): Promise<{ accounts: Accounts, catalog: Catalog, clock: ManualClock, database: string }> {
  // a database of the test process's dialect (accounts.pg.test.ts runs these on PostgreSQL)
  const { database, remove } = await testDatabase()
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  t.teardown(async () => { await catalog.stop(); await remove() })
  const clock = manualClock()
  return { accounts: createAccounts({ repository: catalog.repositories.access, logger: silentLogger(), clock }, { scryptCost: COST }), catalog, clock, database }
}

test('scrypt hashes verify only their own password, and an older cost asks for a rehash', async t => {
  const hash = await hashPassword('correct horse', COST)
  t.regex(hash, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
  t.deepEqual(await verifyPassword('correct horse', hash, COST), { ok: true, rehash: false })
  t.deepEqual(await verifyPassword('correct horsf', hash, COST), { ok: false, rehash: false })
  t.deepEqual(await verifyPassword('correct horse', hash, { ln: 11, r: 8, p: 1 }), { ok: true, rehash: true })
  t.deepEqual(await verifyPassword('x', 'plain-text', COST), { ok: false, rehash: false })
  t.not(await hashPassword('correct horse', COST), hash, 'a fresh salt each time')
})

test('the first admin is made once with a random password, and takes the progress kept before accounts', async t => {
  const { accounts, catalog } = await open(t)
  await catalog.upsertMedia({ id: 'aaaaaaaaaaaaaaaa', sourceCid: 'bafy-1', path: '/a.mp4', title: 'a', durationSeconds: 100, sizeBytes: 1, probe: {} })
  await catalog.setProgress('default', 'aaaaaaaaaaaaaaaa', 42)
  const first = await accounts.ensureFirstAdmin()
  t.truthy(first)
  t.is(first?.user.name, 'admin')
  t.is(first?.user.role, 'admin')
  t.regex(first?.password ?? '', /^[A-Za-z0-9]{20}$/)
  t.is(await accounts.ensureFirstAdmin(), undefined)
  t.is((await catalog.getProgress(first?.user.id ?? '', 'aaaaaaaaaaaaaaaa'))?.positionSeconds, 42)
  t.is(await catalog.getProgress('default', 'aaaaaaaaaaaaaaaa'), undefined)
  const session = await accounts.login('ADMIN ', first?.password ?? '')
  t.is(session.user.name, 'admin')
})

test('a login gives a session token that authenticates until logout; wrong names and passwords say the same', async t => {
  const { accounts } = await open(t)
  const { user } = await accounts.addUser({ name: 'Alice', role: 'viewer', password: 'wonderland' })
  t.is(user.name, 'alice')
  const session = await accounts.login('alice', 'wonderland')
  t.regex(session.token, /^ccs_[A-Za-z0-9_-]{43}$/)
  t.is((await accounts.authenticate(session.token))?.user.id, user.id)
  const wrongPassword = await t.throwsAsync(accounts.login('alice', 'wonderlanD'))
  const wrongName = await t.throwsAsync(accounts.login('alicia', 'wonderland'))
  t.is(wrongPassword?.name, 'InvalidCredentialsError')
  t.is(wrongName?.message, wrongPassword?.message)
  await accounts.logout(session.token)
  t.is(await accounts.authenticate(session.token), undefined)
  t.is(await accounts.authenticate('ccs_' + 'A'.repeat(43)), undefined)
  t.is(await accounts.authenticate('garbage'), undefined)
})

test('only the hash of a token is stored, so the database logs nobody in', async t => {
  const { accounts, catalog } = await open(t)
  await accounts.addUser({ name: 'bob', role: 'admin', password: 'builder!!' })
  const issued = await accounts.addApiToken('bob', 'backup script')
  t.regex(issued.token, /^cca_/)
  const tokens = await catalog.repositories.access.tokens()
  t.is(tokens.length, 1)
  t.false(JSON.stringify(tokens).includes(issued.token.slice(4)))
  t.is((await accounts.authenticate(issued.token))?.kind, 'api')
})

test('sessions expire after 30 days unused and stay alive while used; API tokens do not expire', async t => {
  const { accounts, clock } = await open(t)
  await accounts.addUser({ name: 'carol', role: 'viewer', password: 'password1' })
  const session = await accounts.login('carol', 'password1')
  const api = await accounts.addApiToken('carol', 'tv')
  for (let day = 0; day < 40; day++) {
    clock.advance(24 * 60 * 60 * 1000)
    t.truthy(await accounts.authenticate(session.token), `day ${day}: a session in use stays`)
  }
  clock.advance(31 * 24 * 60 * 60 * 1000)
  t.is(await accounts.authenticate(session.token), undefined)
  t.truthy(await accounts.authenticate(api.token))
  t.is(await accounts.sweep(), 1)
})

test('a password change ends every session of that user at once; removing a token or a user revokes it at once', async t => {
  const { accounts } = await open(t)
  await accounts.addUser({ name: 'dave', role: 'viewer', password: 'password1' })
  await accounts.addUser({ name: 'root', role: 'admin', password: 'password1' })
  const a = await accounts.login('dave', 'password1')
  const b = await accounts.login('dave', 'password1')
  const api = await accounts.addApiToken('dave', 'script')
  t.truthy(await accounts.authenticate(a.token))
  const fresh = await accounts.setPassword('dave')
  t.is(await accounts.authenticate(a.token), undefined)
  t.is(await accounts.authenticate(b.token), undefined)
  t.truthy(await accounts.authenticate(api.token), 'API tokens are removed one by one')
  await t.throwsAsync(accounts.login('dave', 'password1'), { name: 'InvalidCredentialsError' })
  t.truthy(await accounts.login('dave', fresh))
  await t.throwsAsync(accounts.removeToken(api.view.id, (await accounts.getUser('root')).id), { name: 'AccountNotFoundError' }, 'not root\'s token')
  await accounts.removeToken(api.view.id, (await accounts.getUser('dave')).id)
  t.is(await accounts.authenticate(api.token), undefined)
  const c = await accounts.login('dave', fresh)
  await accounts.removeUser('dave')
  t.is(await accounts.authenticate(c.token), undefined)
})

test('bad names, passwords, roles and duplicates are refused with named errors; the last admin stays', async t => {
  const { accounts } = await open(t)
  const root = await accounts.addUser({ name: 'root', role: 'admin' })
  for (const name of ['', ' ', '-x', 'a b', 'é', 'x'.repeat(65), '../etc', 'a/b']) {
    await t.throwsAsync(accounts.addUser({ name, role: 'viewer', password: 'password1' }), { name: 'InvalidRequestError' }, JSON.stringify(name))
  }
  await t.throwsAsync(accounts.addUser({ name: 'short', role: 'viewer', password: 'seven77' }), { name: 'InvalidRequestError' })
  await t.throwsAsync(accounts.addUser({ name: 'x', role: 'root' as 'admin', password: 'password1' }), { name: 'InvalidRequestError' })
  await t.throwsAsync(accounts.addUser({ name: 'ROOT', role: 'viewer', password: 'password1' }), { name: 'AccountExistsError' })
  await t.throwsAsync(accounts.removeUser('root'), { name: 'LastAdminError' })
  await t.throwsAsync(accounts.updateUser('root', { role: 'viewer' }), { name: 'LastAdminError' })
  await t.throwsAsync(accounts.removeUser('nobody'), { name: 'AccountNotFoundError' })
  await accounts.addApiToken('root', 'ci')
  await t.throwsAsync(accounts.addApiToken('root', 'ci'), { name: 'AccountExistsError' })
  await t.throwsAsync(accounts.addApiToken('root', ''), { name: 'InvalidRequestError' })
  await accounts.addUser({ name: 'kid', role: 'viewer' })
  await t.throwsAsync(accounts.updateUser('kid', { folders: ['relative/path'] }), { name: 'InvalidRequestError' })
  t.deepEqual((await accounts.updateUser('kid', { folders: ['/srv/films/'] })).folders, ['/srv/films'])
  t.deepEqual((await accounts.updateUser('kid', { folders: ['/srv//films/', '/srv/x/../films', '/srv/tv/.', '/'] })).folders, ['/srv/films', '/srv/tv', '/'])
  t.is((await accounts.listUsers()).length, 2)
  t.is(root.user.role, 'admin')
})

test('library folders limit viewers only: an admin\'s are refused, and a viewer made admin loses theirs', async t => {
  const { accounts } = await open(t)
  await t.throwsAsync(accounts.addUser({ name: 'boss', role: 'admin', folders: ['/srv/films'] }), { name: 'InvalidRequestError', message: /admins see every folder/ })
  t.is((await accounts.addUser({ name: 'boss', role: 'admin', folders: null })).user.folders, null)
  await t.throwsAsync(accounts.updateUser('boss', { folders: ['/srv/films'] }), { name: 'InvalidRequestError', message: /admins see every folder/ })
  await accounts.addUser({ name: 'kid', role: 'viewer', folders: ['/srv/tv'] })
  await t.throwsAsync(accounts.updateUser('kid', { role: 'admin', folders: ['/srv/tv'] }), { name: 'InvalidRequestError' })
  t.deepEqual((await accounts.getUser('kid')).folders, ['/srv/tv'], 'a refused change changes nothing')
  t.like(await accounts.updateUser('kid', { role: 'admin' }), { role: 'admin', folders: null })
  t.like(await accounts.updateUser('kid', { role: 'viewer', folders: ['/srv/films'] }), { role: 'viewer', folders: ['/srv/films'] }, 'demoted and limited in one change')
})

test('failed logins are free five times per account and twenty per address, then each attempt waits twice as long', t => {
  const clock = manualClock()
  const limiter = createLoginLimiter({ clock })
  const eve = { account: 'eve', address: '10.0.0.1' }
  for (let i = 0; i < 5; i++) {
    t.notThrows(() => { limiter.check(eve) })
    limiter.failed(eve)
  }
  const first = t.throws(() => { limiter.check(eve) }, { name: 'TooManyAttemptsError' }) as Error & { retryAfterSeconds: number }
  t.is(first.retryAfterSeconds, 1)
  t.throws(() => { limiter.check({ account: 'EVE ', address: '10.9.9.9' }) }, undefined, 'the account is slowed from any address')
  t.notThrows(() => { limiter.check({ account: 'someone-else', address: '10.0.0.1' }) }, 'the address still has free failures')
  clock.advance(1000)
  t.notThrows(() => { limiter.check(eve) })
  limiter.failed(eve)
  t.is((t.throws(() => { limiter.check(eve) }) as Error & { retryAfterSeconds: number }).retryAfterSeconds, 2)
  clock.advance(2000)
  limiter.succeeded(eve)
  t.notThrows(() => { limiter.check(eve) }, 'a good login clears the account')

  // spraying many accounts from one address: free for twenty, then slowed, and a good login of its own does not clear it
  for (let i = 0; i < 14; i++) limiter.failed({ account: `victim-${i}`, address: '10.0.0.1' })
  t.throws(() => { limiter.check({ account: 'victim-99', address: '10.0.0.1' }) }, { name: 'TooManyAttemptsError' })
  limiter.succeeded({ account: 'mine', address: '10.0.0.1' })
  t.throws(() => { limiter.check({ account: 'victim-99', address: '10.0.0.1' }) }, { name: 'TooManyAttemptsError' })

  for (let i = 0; i < 60; i++) limiter.failed({ account: 'mallory', address: `10.1.${i}.1` })
  t.is((t.throws(() => { limiter.check({ account: 'mallory', address: '10.2.0.1' }) }) as Error & { retryAfterSeconds: number }).retryAfterSeconds, 900, 'at most 15 minutes')
  clock.advance(15 * 60_000 + 1)
  t.notThrows(() => { limiter.check({ account: 'mallory', address: '10.2.0.1' }) }, 'forgotten 15 minutes after the last failure')
})
