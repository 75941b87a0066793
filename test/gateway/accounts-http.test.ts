import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { bearer, viewerToken } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import { cidcastWith } from '../helpers/spawn.ts'
import type { TestServer } from '../helpers/server.ts'

/*
 * Accounts over HTTP and the CLI with a real main server: login, the session cookie, CSRF, logout, rate limits,
 * users and tokens, and the CLI's saved credentials.
 */

let main: TestServer
const PASSWORD = 'a-long-admin-password'
test.before(async () => {
  main = await startTestServer()
  await main.server.accounts.setPassword('admin', PASSWORD)
})
test.after.always(async () => { await main?.stop() })

async function login (username: string, password: string, headers: Record<string, string> = {}, running = main): Promise<Response> {
  return await fetch(`${running.server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) })
}

function cookieOf (res: Response): string {
  const set = res.headers.getSetCookie().find(c => c.startsWith('cidcast_session='))
  return set?.split(';')[0] ?? ''
}

test('a login answers the user and a token, and sets an HttpOnly SameSite session cookie that opens the API', async t => {
  const res = await login('admin', PASSWORD)
  t.is(res.status, 200)
  const body = await res.json() as { token: string, user: { name: string, role: string }, expiresAt: string }
  t.is(body.user.name, 'admin')
  t.is(body.user.role, 'admin')
  t.false(JSON.stringify(body).includes('passwordHash'))
  const setCookie = res.headers.getSetCookie().find(c => c.startsWith('cidcast_session=')) ?? ''
  t.regex(setCookie, /; httponly/i)
  t.regex(setCookie, /; samesite=lax/i)
  t.regex(setCookie, /; path=\//i)
  const me = await fetch(`${main.server.url}/api/v1/auth/me`, { headers: { Cookie: cookieOf(res) } })
  t.is(me.status, 200)
  t.is((await me.json() as { name: string }).name, 'admin')
  const withBearer = await fetch(`${main.server.url}/api/v1/media`, { headers: bearer(body.token) })
  t.is(withBearer.status, 200)
})

test('a change made with the cookie must come from this site: another Origin, or none, is refused', async t => {
  const cookie = cookieOf(await login('admin', PASSWORD))
  const add = async (headers: Record<string, string>): Promise<Response> => await fetch(`${main.server.url}/api/v1/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: cookie, ...headers }, body: JSON.stringify({ name: `csrf ${Math.random()}` }) })
  const foreign = await add({ Origin: 'https://evil.example' })
  t.is(foreign.status, 403)
  t.is((await foreign.json() as { error: string }).error, 'PermissionDeniedError')
  t.is((await add({})).status, 403, 'no Origin and no Sec-Fetch-Site')
  t.is((await add({ Origin: main.server.url })).status, 201)
  t.is((await add({ 'Sec-Fetch-Site': 'same-origin' })).status, 201)
  t.is((await fetch(`${main.server.url}/api/v1/media`, { headers: { Cookie: cookie, Origin: 'https://evil.example' } })).status, 200, 'reads are not changes')
})

test('logout ends the session: the cookie and the token answer 401 after it', async t => {
  const res = await login('admin', PASSWORD)
  const { token } = await res.json() as { token: string }
  const cookie = cookieOf(res)
  const out = await fetch(`${main.server.url}/api/v1/auth/logout`, { method: 'POST', headers: { Cookie: cookie, Origin: main.server.url } })
  t.is(out.status, 204)
  t.regex(out.headers.getSetCookie().join('\n'), /cidcast_session=;.*expires=Thu, 01 Jan 1970/i)
  t.is((await fetch(`${main.server.url}/api/v1/auth/me`, { headers: bearer(token) })).status, 401)
  t.is((await fetch(`${main.server.url}/api/v1/auth/me`, { headers: { Cookie: cookie } })).status, 401)
})

test('wrong passwords are slowed per account: after five, 429 with Retry-After, even for the right password', async t => {
  const { user } = await main.server.accounts.addUser({ name: 'target', role: 'viewer', password: 'the-right-one' })
  for (let i = 0; i < 5; i++) {
    const res = await login(user.name, `guess-${i}`)
    t.is(res.status, 401)
    t.is((await res.json() as { error: string }).error, 'InvalidCredentialsError')
  }
  const slowed = await login(user.name, 'the-right-one')
  t.is(slowed.status, 429)
  t.is((await slowed.json() as { error: string }).error, 'TooManyAttemptsError')
  t.true(Number(slowed.headers.get('retry-after')) >= 1)
})

test('bad login bodies get a 400 naming what is expected; unknown names and wrong passwords read the same', async t => {
  for (const body of ['', '[]', '{"username":1,"password":"x"}', '{"username":"admin"}']) {
    const res = await fetch(`${main.server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
    t.is(res.status, 400, body)
    t.regex((await res.json() as { message: string }).message, /username|JSON/, body)
  }
})

test('admins manage users and tokens over HTTP; a viewer lists only their own tokens and cannot remove another\'s', async t => {
  const admin = bearer(main.token)
  const made = await fetch(`${main.server.url}/api/v1/users`, { method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Viola', role: 'viewer' }) })
  t.is(made.status, 201)
  const viola = await made.json() as { name: string, password: string }
  t.is(viola.name, 'viola')
  t.regex(viola.password, /^[A-Za-z0-9]{20}$/)
  const session = await (await fetch(`${main.server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'viola', password: viola.password }) })).json() as { token: string }
  const mine = await fetch(`${main.server.url}/api/v1/tokens`, { method: 'POST', headers: { ...bearer(session.token), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'tv' }) })
  t.is(mine.status, 201)
  const listed = await (await fetch(`${main.server.url}/api/v1/tokens`, { headers: bearer(session.token) })).json() as { items: Array<{ name: string | null, kind: string }> }
  t.deepEqual(listed.items.map(i => i.kind).sort(), ['api', 'session'])
  t.false(JSON.stringify(listed).includes(session.token))
  t.is((await fetch(`${main.server.url}/api/v1/tokens?all=1`, { headers: bearer(session.token) })).status, 403)
  const adminsOwn = await (await fetch(`${main.server.url}/api/v1/tokens`, { method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'admin script' }) })).json() as { id: string, token: string }
  const everyone = await (await fetch(`${main.server.url}/api/v1/tokens?all=1`, { headers: admin })).json() as { items: Array<{ id: string }> }
  t.true(everyone.items.some(i => i.id === adminsOwn.id))
  const refused = await fetch(`${main.server.url}/api/v1/tokens/${adminsOwn.id}`, { method: 'DELETE', headers: bearer(session.token) })
  t.is(refused.status, 404, 'another user\'s token reads as not found')
  t.is((await fetch(`${main.server.url}/api/v1/auth/me`, { headers: bearer(adminsOwn.token) })).status, 200)
  const reset = await (await fetch(`${main.server.url}/api/v1/users/viola/password`, { method: 'PUT', headers: { ...admin, 'Content-Type': 'application/json' }, body: '{}' })).json() as { password: string }
  t.regex(reset.password, /^[A-Za-z0-9]{20}$/)
  t.is((await fetch(`${main.server.url}/api/v1/auth/me`, { headers: bearer(session.token) })).status, 401, 'a new password ends her sessions')
  t.is((await fetch(`${main.server.url}/api/v1/users/admin`, { method: 'DELETE', headers: admin })).status, 409, 'the last admin stays')
  t.is((await fetch(`${main.server.url}/api/v1/users/viola`, { method: 'DELETE', headers: admin })).status, 200)
})

test('progress and continue-watching are per account', async t => {
  const media = await main.server.library.list({ limit: 1 })
  t.is(media.length, 0, 'an empty library: progress of an unknown media is a 404 for anyone')
  const alice = bearer(await viewerToken(main.server, 'alice'))
  const res = await fetch(`${main.server.url}/api/v1/media/0123456789abcdef/progress`, { headers: alice })
  t.is(res.status, 404)
  const cont = await fetch(`${main.server.url}/api/v1/progress`, { headers: alice })
  t.deepEqual(await cont.json(), { items: [] })
})

test('/auth/me and a login say whether the user may order replication, as the route table does under viewerReplication', async t => {
  const open = await startTestServer({ viewerReplication: true })
  t.teardown(open.stop)
  const decide = async (running: TestServer): Promise<Record<string, unknown>> => {
    await running.server.accounts.addUser({ name: 'rita', role: 'viewer', password: 'rita-password' })
    const session = await (await login('rita', 'rita-password', {}, running)).json() as { token: string, user: { canReplicate: boolean } }
    const me = await (await fetch(`${running.server.url}/api/v1/auth/me`, { headers: bearer(session.token) })).json() as { canReplicate: boolean }
    const admin = await (await fetch(`${running.server.url}/api/v1/auth/me`, { headers: bearer(running.token) })).json() as { canReplicate: boolean }
    const order = await fetch(`${running.server.url}/api/v1/replications`, { method: 'POST', headers: { ...bearer(session.token), 'Content-Type': 'application/json' }, body: '{}' })
    return { login: session.user.canReplicate, me: me.canReplicate, admin: admin.canReplicate, orderRefused: order.status === 403 }
  }
  t.deepEqual(await decide(main), { login: false, me: false, admin: true, orderRefused: true }, 'viewerReplication off: admins only')
  t.deepEqual(await decide(open), { login: true, me: true, admin: true, orderRefused: false }, 'viewerReplication on: viewers too')
})

test('cidcast login saves a 0600 token per server that later verbs use; user and token verbs print once what they make', async t => {
  const home = await mkdtemp(join(tmpdir(), 'cidcast-cli-home-'))
  t.teardown(async () => { await rm(home, { recursive: true, force: true }) })
  const env = { XDG_CONFIG_HOME: home, CIDCAST_TOKEN: '' }
  const server = main.server.url
  const unauth = await cidcastWith({ env }, 'user', 'ls', '--server', server)
  t.is(unauth.code, 1)
  t.regex(unauth.stderr, /^error: AuthenticationRequiredError: log in first: cidcast login --server http:\/\/127\.0\.0\.1:\d+\n$/)
  const wrong = await cidcastWithInput(env, 'not-the-password\n', 'login', '--server', server, '--user', 'admin', '--password-stdin')
  t.is(wrong.code, 1)
  t.regex(wrong.stderr, /InvalidCredentialsError: wrong user name or password/)
  const ok = await cidcastWithInput(env, `${PASSWORD}\n`, 'login', '--server', server, '--user', 'admin', '--password-stdin')
  t.is(ok.code, 0, ok.stderr)
  t.regex(ok.stdout, /^logged in to http:\/\/127\.0\.0\.1:\d+ as admin \(admin\)/)
  const file = join(home, 'cidcast', 'credentials.json')
  t.is((await stat(file)).mode & 0o777, 0o600)
  t.is((await stat(join(home, 'cidcast'))).mode & 0o777, 0o700)
  t.false(ok.stdout.includes((JSON.parse(await readFile(file, 'utf8')) as { servers: Record<string, { token: string }> }).servers[new URL(server).origin].token), 'the token is not printed')

  const added = await cidcastWith({ env }, 'user', 'add', 'walter', '--server', server)
  t.is(added.code, 0, added.stderr)
  t.regex(added.stdout, /^added walter \(viewer\)\npassword: [A-Za-z0-9]{20}\n$/)
  const listed = await cidcastWith({ env }, 'user', 'ls', '--server', server)
  t.regex(listed.stdout, /^admin\tadmin\tall folders\t/m)
  t.regex(listed.stdout, /^walter\tviewer\tall folders\t/m)
  const token = await cidcastWith({ env }, 'token', 'add', 'backup job', '--server', server)
  t.regex(token.stdout, /^added token [0-9a-f]{16} \(backup job\)\ntoken: cca_[A-Za-z0-9_-]{43}\n$/)
  const id = /added token ([0-9a-f]{16})/.exec(token.stdout)?.[1] ?? ''
  const scripted = await cidcastWith({ env: { CIDCAST_TOKEN: /token: (\S+)/.exec(token.stdout)?.[1] ?? '' } }, 'user', 'ls', '--server', server)
  t.is(scripted.code, 0, 'CIDCAST_TOKEN works on its own')
  t.is((await cidcastWith({ env }, 'token', 'rm', id, '--server', server)).code, 0)
  const revoked = await cidcastWith({ env: { CIDCAST_TOKEN: /token: (\S+)/.exec(token.stdout)?.[1] ?? '' } }, 'user', 'ls', '--server', server)
  t.is(revoked.code, 1)
  t.regex(revoked.stderr, /InvalidCredentialsError/)
  t.regex((await cidcastWith({ env }, 'user', 'rm', 'admin', '--server', server)).stderr, /LastAdminError: admin is the last admin/)
  const out = await cidcastWith({ env }, 'logout', '--server', server)
  t.is(out.code, 0)
  t.is((await cidcastWith({ env }, 'user', 'ls', '--server', server)).code, 1)
})

/** `cidcast ARGS` with `input` on its standard input. */
async function cidcastWithInput (env: Record<string, string>, input: string, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const { spawn } = await import('node:child_process')
  const { CLI } = await import('../helpers/spawn.ts')
  return await new Promise(resolve => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CIDCAST_SERVER: '', CIDCAST_FROM_SOURCE: '1', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.once('exit', code => { resolve({ code: code ?? 1, stdout, stderr }) })
    child.stdin.end(input)
  })
}
