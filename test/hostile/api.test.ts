import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { login, viewerToken } from '../helpers/auth.ts'
import { catalogProbe, hostileTests, runCase, send, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe, HostileTarget, HttpCase } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile input to the main server's `/api/v1` and `/media`: bodies, types, sizes, ids, paths, credentials,
 * cookies without an origin, password guessing. One server and one media for every case; each case answers its
 * deliberate status with `{ error, message }` and no internals, and (but for legitimate edits) changes nothing.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, target: HostileTarget, id: string, cookie: string }>

const PASSWORD = 'an-admin-password-for-hostile-tests'

test.before(async t => {
  const main = await startTestServer()
  const source = join(main.dir, 'Hostile Clip (2001).mp4')
  await copyFile(await fixture('h264-aac-10s'), source)
  const media = await main.server.addMedia(source)
  await main.server.metadata.idle()
  await main.server.accounts.setPassword('admin', PASSWORD)
  const cookie = `cidcast_session=${await login(main.server.url, 'admin', PASSWORD)}`
  const viewer = await viewerToken(main.server, 'hostile-viewer')
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const target = { url: main.server.url, tokens: { admin: main.token, viewer }, snapshot: serverSnapshot(join(main.dir, 'data'), probe), secrets: [main.dir, PASSWORD], vars: { id: media.id, cookie } }
  t.context = { main, probe, target, id: media.id, cookie }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

const json = (value: unknown): string => JSON.stringify(value)
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

hostileTests(test, [
  { name: 'malformed JSON', method: 'POST', path: '/api/v1/media', body: '{"path":', status: 400, error: 'InvalidRequestError' },
  { name: 'a JSON array', method: 'POST', path: '/api/v1/media', body: '[]', status: 400, error: 'InvalidRequestError' },
  { name: 'a path that is a number', method: 'POST', path: '/api/v1/media', body: json({ path: 42 }), status: 400, error: 'InvalidRequestError' },
  { name: 'a path that is an object', method: 'POST', path: '/api/v1/media', body: json({ path: { toString: '/etc/passwd' } }), status: 400, error: 'InvalidRequestError' },
  { name: 'a relative path', method: 'POST', path: '/api/v1/media', body: json({ path: '../../etc/passwd' }), status: 400, error: 'InvalidPathError' },
  { name: 'a path with NUL', method: 'POST', path: '/api/v1/media', body: json({ path: '/etc/passwd\u0000.mp4' }), status: 400, error: 'InvalidPathError' },
  { name: 'a path of 100 kB', method: 'POST', path: '/api/v1/media', body: json({ path: '/' + 'a'.repeat(100_000) }), status: 413, error: 'BodyTooLargeError' },
  { name: 'a body over the limit', method: 'POST', path: '/api/v1/media', body: json({ path: '/x.mp4', pad: 'x'.repeat(200_000) }), status: 413, error: 'BodyTooLargeError' },
  { name: 'nesting 5,000 deep', method: 'POST', path: '/api/v1/media', body: nested(5000), status: 400, error: 'InvalidRequestError' },
  { name: 'a __proto__ key', method: 'POST', path: '/api/v1/media', body: '{"__proto__": {"path": "/etc/passwd"}}', status: 400, error: 'InvalidRequestError' },
  { name: 'form-encoded', method: 'POST', path: '/api/v1/media', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'path=/etc/passwd', status: 415, error: 'UnsupportedMediaTypeError' },
  { name: 'text/plain JSON', method: 'POST', path: '/api/v1/media', headers: { 'Content-Type': 'text/plain' }, body: json({ path: '/etc/passwd' }), status: 415, error: 'UnsupportedMediaTypeError' },
  { name: 'JSON in UTF-16', method: 'POST', path: '/api/v1/media', headers: { 'Content-Type': 'application/json; charset=utf-16' }, body: Buffer.from(json({ path: '/x' }), 'utf16le'), status: 415, error: 'UnsupportedMediaTypeError' },
  { name: 'a viewer adding', method: 'POST', path: '/api/v1/media', as: 'viewer', body: json({ path: '/etc/passwd' }), status: 403, error: 'PermissionDeniedError' },
  { name: 'nobody adding', method: 'POST', path: '/api/v1/media', as: 'none', body: json({ path: '/etc/passwd' }), status: 401, error: 'AuthenticationRequiredError' },
  { name: 'DELETE of the library', method: 'DELETE', path: '/api/v1/media', status: 405, error: 'MethodNotAllowedError' }
], c => c.target)

hostileTests(test, [
  { name: 'Basic credentials', path: '/api/v1/media', headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' }, status: 401, error: 'InvalidCredentialsError' },
  { name: 'a forged admin token', path: '/api/v1/media', headers: { Authorization: 'Bearer cca_' + 'A'.repeat(43) }, status: 401, error: 'InvalidCredentialsError' },
  { name: 'a bearer token of 8 kB', path: '/api/v1/media', headers: { Authorization: 'Bearer ccs_' + 'z'.repeat(8000) }, status: 401, error: 'InvalidCredentialsError' },
  { name: 'a token with SQL', path: '/api/v1/media', headers: { Authorization: "Bearer cca_'OR'1'='1" }, status: 401, error: 'InvalidCredentialsError' },
  { name: 'a session cookie of garbage', path: '/api/v1/auth/me', as: 'none', headers: { Cookie: 'cidcast_session=%00%ff' + 'x'.repeat(3000) }, status: 401, error: 'AuthenticationRequiredError' },
  { name: 'headers over 16 kB', path: '/api/v1/media', headers: { 'X-Pad': 'x'.repeat(20_000) }, status: 431, error: 'HeadersTooLargeError' },
  { name: 'a body both chunked and sized', method: 'POST', path: '/api/v1/media', headers: { 'Transfer-Encoding': 'chunked' }, body: '2\r\n{}\r\n0\r\n\r\n', status: 400, error: 'InvalidRequestError' }
], c => c.target)

hostileTests(test, [
  { name: 'an id with encoded dot-dot', path: '/api/v1/media/..%2f..%2fcatalog.sqlite', status: 404, error: 'MediaNotFoundError' },
  { name: 'an id with NUL', path: '/api/v1/media/{id}%00', status: 404, error: 'MediaNotFoundError' },
  { name: 'an id of 4,000 characters', path: `/api/v1/media/${'f'.repeat(4000)}`, status: 404, error: 'MediaNotFoundError' },
  { name: 'a malformed percent escape', path: '/api/v1/media/%E0%A4%A', status: 404, error: 'MediaNotFoundError' },
  { name: 'an id with HTML', path: '/api/v1/media/%3Cscript%3Ealert(1)%3C%2Fscript%3E', status: 404, error: 'MediaNotFoundError', check: (t, res) => { t.false(String(res.headers['content-type']).includes('html')) } },
  { name: 'limit below zero', path: '/api/v1/media?limit=-1', status: 400, error: 'InvalidRequestError' },
  { name: 'limit in exponent form', path: '/api/v1/media?limit=1e3', status: 400, error: 'InvalidRequestError' },
  { name: 'limit given twice', path: '/api/v1/media?limit=1&limit=2', status: 400, error: 'InvalidRequestError' },
  { name: 'an offset past 2^53', path: '/api/v1/media?offset=99999999999999999999', status: 400, error: 'InvalidRequestError' },
  { name: 'a bogus sort', path: '/api/v1/media?sort=title;DROP%20TABLE%20media', status: 400, error: 'InvalidRequestError' },
  { name: 'a kind given twice', path: '/api/v1/media?kind=movie&kind=episode', status: 400, error: 'InvalidRequestError' },
  { name: 'a profile with dot-dot', path: '/media/{id}/..%2f..%2fswarm.key/index.m3u8', status: 404 },
  { name: 'a profile that does not exist', path: '/media/{id}/9999p/index.m3u8', status: 404, error: 'ProfileNotFoundError' },
  { name: 'a segment with dot-dot', path: '/media/{id}/240p/..%2f..%2f..%2fswarm.key', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a negative segment', path: '/media/{id}/240p/-1.m4s', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a segment past 2^64', path: '/media/{id}/240p/99999999999999999999.m4s', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a segment with NUL', path: '/media/{id}/240p/0.m4s%00.txt', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a segment with a leading zero', path: '/media/{id}/240p/00.m4s', status: 404, error: 'SegmentNotFoundError' },
  { name: 'a playlist of an unknown media', path: '/media/0000000000000000/master.m3u8', status: 404, error: 'MediaNotFoundError' },
  { name: 'a play URL for a negative ttl', path: '/api/v1/media/{id}/play?ttl=-5', status: 400, error: 'InvalidRequestError' },
  { name: 'a play URL for ten years', path: '/api/v1/media/{id}/play?ttl=315360000', status: 400, error: 'InvalidRequestError' },
  { name: 'a play URL on a node named with dot-dot', path: '/api/v1/media/{id}/play?node=..%2f..', status: 404, error: 'NodeNotFoundError' },
  { name: 'a search for nothing', path: '/api/v1/search?q=%20', status: 400, error: 'InvalidRequestError' },
  { name: 'a provider search of 5,000 characters', path: `/api/v1/media/{id}/matches?query=${'x'.repeat(5000)}`, status: 400, error: 'InvalidRequestError' },
  { name: 'a series id with dot-dot', path: '/api/v1/series/..%2f..', status: 404, error: 'SeriesNotFoundError' },
  { name: 'a season that is not a number', path: '/api/v1/series/x/seasons/1e9', status: 400, error: 'InvalidRequestError' }
], c => c.target)

hostileTests(test, [
  { name: 'a position as a string', method: 'PUT', path: '/api/v1/media/{id}/progress', body: json({ positionSeconds: '5' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a negative position', method: 'PUT', path: '/api/v1/media/{id}/progress', body: json({ positionSeconds: -1 }), status: 400, error: 'InvalidRequestError' },
  { name: 'a position of 1e308', method: 'PUT', path: '/api/v1/media/{id}/progress', body: '{"positionSeconds":1e400}', status: 400, error: 'InvalidRequestError' },
  { name: 'progress of an unknown media', method: 'PUT', path: '/api/v1/media/0000000000000000/progress', body: json({ positionSeconds: 1 }), status: 404, error: 'MediaNotFoundError' },
  { name: 'a replication of garbage', method: 'POST', path: '/api/v1/replications', body: json({ media: ['{id}'], node: { $ne: 1 } }), status: 400, error: 'InvalidRequestError' },
  { name: 'a replication with a negative factor', method: 'POST', path: '/api/v1/replications', body: json({ media: '{id}', replicas: '3:-1' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a replication to an unknown node', method: 'POST', path: '/api/v1/replications', body: json({ media: '{id}', node: '../../x' }), status: 404, error: 'NodeNotFoundError' },
  { name: 'a replication of an identity CID', method: 'POST', path: '/api/v1/replications', body: json({ cid: 'bafkqaaa', replicas: '1' }), status: 400 },
  { name: 'a revocation of a node that does not exist', method: 'POST', path: '/api/v1/nodes/%2e%2e/revoke', status: 404, error: 'NodeNotFoundError' }
], c => c.target)

hostileTests(test, [
  { name: 'a user named with HTML', method: 'POST', path: '/api/v1/users', body: json({ name: '<img src=x onerror=alert(1)>', role: 'viewer' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a user named with U+202E', method: 'POST', path: '/api/v1/users', body: json({ name: 'admin\u202enimda', role: 'viewer' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a role of root', method: 'POST', path: '/api/v1/users', body: json({ name: 'rooty', role: 'root' }), status: 400, error: 'InvalidRequestError' },
  { name: 'folders that are no list', method: 'POST', path: '/api/v1/users', body: json({ name: 'foldery', folders: '/etc' }), status: 400, error: 'InvalidRequestError' },
  { name: 'folders that are relative', method: 'POST', path: '/api/v1/users', body: json({ name: 'foldery', folders: ['../..'] }), status: 400, error: 'InvalidRequestError' },
  { name: 'a password of 1 MB', method: 'POST', path: '/api/v1/users', body: json({ name: 'big', password: 'p'.repeat(60_000) }), status: 400, error: 'InvalidRequestError' },
  { name: 'a token named with 10,000 characters', method: 'POST', path: '/api/v1/tokens', body: json({ name: 'n'.repeat(10_000) }), status: 400, error: 'InvalidRequestError' },
  { name: 'a token id with dot-dot', method: 'DELETE', path: '/api/v1/tokens/..%2f..%2fusers', status: 404 },
  { name: 'a viewer demoting the admin', method: 'PATCH', path: '/api/v1/users/admin', as: 'viewer', body: json({ role: 'viewer' }), status: 403, error: 'PermissionDeniedError' },
  { name: 'the last admin demoted', method: 'PATCH', path: '/api/v1/users/admin', body: json({ role: 'viewer' }), status: 409 },
  { name: 'a login with a password that is an object', method: 'POST', path: '/api/v1/auth/login', as: 'none', body: json({ username: 'admin', password: { $gt: '' } }), status: 400, error: 'InvalidRequestError' },
  { name: 'a login as a name of 10 kB', method: 'POST', path: '/api/v1/auth/login', as: 'none', body: json({ username: 'u'.repeat(10_000), password: 'x' }), status: 401, error: 'InvalidCredentialsError' }
], c => c.target)

hostileTests(test, [
  { name: 'a cookie write without Origin', method: 'POST', path: '/api/v1/tokens', as: 'none', headers: { Cookie: '{cookie}' }, body: json({ name: 'csrf' }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a cookie write from another site', method: 'POST', path: '/api/v1/tokens', as: 'none', headers: { Cookie: '{cookie}', Origin: 'https://evil.example' }, body: json({ name: 'csrf' }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a cookie write with Origin null', method: 'PUT', path: '/api/v1/media/{id}/progress', as: 'none', headers: { Cookie: '{cookie}', Origin: 'null' }, body: json({ positionSeconds: 1 }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a cookie write a cross-site fetch sends', method: 'DELETE', path: '/api/v1/users/hostile-viewer', as: 'none', headers: { Cookie: '{cookie}', 'Sec-Fetch-Site': 'cross-site' }, status: 403, error: 'PermissionDeniedError' }
], c => c.target)

test.serial('HTML and script in metadata are stored verbatim and returned as JSON text; bidi controls are stripped', async t => {
  const script = '<script>alert(document.cookie)</script>'
  const img = '"><img src=x onerror=alert(1)>'
  const edit = (field: string, value: unknown): HttpCase => ({
    name: `${field} with markup`,
    method: 'PATCH',
    path: '/api/v1/media/{id}/metadata',
    body: json({ [field]: value }),
    status: 200,
    changes: 'stored'
  })
  for (const [field, value] of [['title', script], ['overview', img], ['tagline', `${script}${img}`], ['originalTitle', '&lt;b&gt;&amp;']] as const) {
    await runCase(t, t.context.target, edit(field, value))
    const res = await send(t.context.target, { path: '/api/v1/media/{id}' })
    t.regex(String(res.headers['content-type']), /application\/json/)
    t.is(res.json?.title === value || res.json?.overview === value || (await send(t.context.target, { path: '/api/v1/media/{id}/metadata' })).text.includes(JSON.stringify(value).slice(1, -1)), true, `${field} kept verbatim`)
  }
  await runCase(t, t.context.target, { ...edit('title', 'Evil\u202Egnp.exe\u2066x\u2069'), name: 'a title with bidi controls' })
  const media = await send(t.context.target, { path: '/api/v1/media/{id}' })
  t.is(media.json?.title, 'Evilgnp.exex', 'bidi controls are stripped')
  t.false(t.context.probe.text().includes('\u202E'), 'and never stored')
})

hostileTests(test, [
  { name: 'a year that is text', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ year: 'MMI' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a title of 10,000 characters', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ title: 't'.repeat(10_000) }), status: 400, error: 'InvalidRequestError' },
  { name: 'an unknown field', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ isAdmin: true }), status: 400, error: 'InvalidRequestError' },
  { name: 'an IMDb id with dot-dot', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ ids: { imdb: '../../tt1' } }), status: 400, error: 'InvalidRequestError' },
  { name: 'a kind outside the enum', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ kind: 'admin' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a lock of __proto__', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ lock: ['__proto__'] }), status: 400, error: 'InvalidRequestError' },
  { name: 'a title that is NUL only', method: 'PATCH', path: '/api/v1/media/{id}/metadata', body: json({ title: '\u0000' }), status: 400, error: 'InvalidRequestError' },
  { name: 'a viewer editing', method: 'PATCH', path: '/api/v1/media/{id}/metadata', as: 'viewer', body: json({ title: 'x' }), status: 403, error: 'PermissionDeniedError' },
  { name: 'a revert of an entry that does not exist', method: 'POST', path: '/api/v1/media/{id}/metadata/history/..%2f1/revert', status: 400, error: 'InvalidRequestError' },
  { name: 'an identify with a bogus provider', method: 'POST', path: '/api/v1/media/{id}/identify', body: json({ match: { provider: 'file', kind: 'movie', id: '/etc/passwd' } }), status: 409, error: 'NoProviderError' }
], c => c.target)

test.serial('password guessing is slowed with 429 and Retry-After, and the right password still waits', async t => {
  const guess = (password: string): HttpCase => ({ name: `a login guessing ${password}`, method: 'POST', path: '/api/v1/auth/login', as: 'none', body: json({ username: 'hostile-viewer', password }), status: 401, error: 'InvalidCredentialsError' })
  for (let i = 0; i < 5; i++) await runCase(t, t.context.target, guess(`guess-${i}`))
  await runCase(t, t.context.target, {
    name: 'the sixth guess',
    method: 'POST',
    path: '/api/v1/auth/login',
    as: 'none',
    body: json({ username: 'hostile-viewer', password: 'guess-6' }),
    status: 429,
    error: 'TooManyAttemptsError',
    check: (t, res) => { t.regex(String(res.headers['retry-after']), /^[1-9]\d*$/) }
  })
  await runCase(t, t.context.target, { name: 'the right password while waiting', method: 'POST', path: '/api/v1/auth/login', as: 'none', body: json({ username: 'hostile-viewer', password: 'viewer-password' }), status: 429, error: 'TooManyAttemptsError' })
})
