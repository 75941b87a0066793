import { join } from 'node:path'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'

/*
 * Secrets never reach a log line: a main server at debug level, its output captured, goes through logins (good and
 * bad), sessions, API tokens, new users, password changes, a play URL and its stream token (good, flipped, cut short);
 * no password or token it saw appears in what it
 * printed, except the first admin's password, printed once on its own line for the person who started it.
 */

test('no password or token appears in the main server\'s log lines, at debug level', async t => {
  const dir = await tempDir('cidcast-secrets-')
  t.teardown(dir.remove)
  const daemon = runNode([CLI, 'server', '--data', join(dir.path, 'data'), '--log-level', 'debug', '--log-format', 'json'], { CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', CIDCAST_LOG_LEVEL: 'debug' })
  t.teardown(() => { daemon.child.kill('SIGKILL') })
  await waitFor(() => /^admin password: \S+$/m.test(daemon.stdout()), 60_000, `the admin password (stderr: ${daemon.stderr()})`)
  const url = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(daemon.stdout())?.[1] ?? ''
  const adminPassword = /^admin password: (\S+)$/m.exec(daemon.stdout())?.[1] ?? ''
  const secrets: string[] = [adminPassword]
  const call = async (method: string, path: string, body?: unknown, token?: string): Promise<Response> => await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(token == null ? {} : { Authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })

  t.is((await call('POST', '/api/v1/auth/login', { username: 'admin', password: 'wrong-password-guess' })).status, 401)
  secrets.push('wrong-password-guess')
  const session = await (await call('POST', '/api/v1/auth/login', { username: 'admin', password: adminPassword })).json() as { token: string }
  secrets.push(session.token)
  const api = await (await call('POST', '/api/v1/tokens', { name: 'a script' }, session.token)).json() as { token: string }
  secrets.push(api.token)
  const viewer = await (await call('POST', '/api/v1/users', { name: 'vera', role: 'viewer' }, api.token)).json() as { password: string }
  secrets.push(viewer.password)
  t.is((await call('PUT', '/api/v1/users/vera/password', { password: 'a-chosen-password' }, api.token)).status, 200)
  secrets.push('a-chosen-password')
  const bogus = `cca_${'Z'.repeat(43)}`
  t.is((await call('GET', '/api/v1/media', undefined, bogus)).status, 401)
  secrets.push(bogus)
  t.is((await call('GET', '/api/v1/nope', undefined, api.token)).status, 404)
  // a stream token in play URLs, playlists and refusals
  const media = await (await call('POST', '/api/v1/media', { path: await fixture('h264-aac-10s') }, api.token)).json() as { id: string }
  const play = await (await call('GET', `/api/v1/media/${media.id}/play`, undefined, session.token)).json() as { url: string }
  const streamToken = new URL(play.url).searchParams.get('token') ?? ''
  secrets.push(streamToken)
  const master = await fetch(play.url)
  t.is(master.status, 200)
  t.true((await master.text()).includes(streamToken), 'the playlist carries the token')
  const flipped = streamToken.slice(0, 20) + (streamToken[20] === 'A' ? 'B' : 'A') + streamToken.slice(21)
  secrets.push(flipped)
  t.is((await fetch(play.url.replace(streamToken, flipped))).status, 403)
  t.is((await fetch(`${url}/media/${media.id}/360p/0.m4s?token=${streamToken.slice(0, -10)}`)).status, 403)
  t.is((await call('POST', '/api/v1/auth/logout', undefined, session.token)).status, 204)

  await waitFor(() => daemon.stdout().includes('user added') && daemon.stdout().includes('password changed'), 10_000, 'the account lines')
  daemon.child.kill('SIGTERM')
  await daemon.exited
  const printed = daemon.stdout() + daemon.stderr()
  t.is(printed.split(adminPassword).length - 1, 1, 'the first admin\'s password is printed once, on its own line')
  const logLines = daemon.stdout().split('\n').filter(line => line.startsWith('{'))
  t.true(logLines.length > 10)
  for (const secret of secrets) t.false(logLines.some(line => line.includes(secret)), `a log line holds ${secret.slice(0, 6)}...`)
  t.false(daemon.stderr().split('\n').some(line => secrets.some(secret => line.includes(secret))))
})
