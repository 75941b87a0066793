import { join } from 'node:path'
import test from 'ava'
import { startNode } from '../../node/cdn-node.ts'
import { bearer, viewerToken } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { TestServer } from '../helpers/server.ts'

/*
 * A CDN node's `/api/v1` proxy speaks for the caller, never for itself: the main server decides with the caller's
 * own credential (issue #12 item 6: the proxy used to turn every caller into loopback, so `?all=1` answered
 * anyone). Login through the proxy gives a session cookie for the node's own site, sent on as a bearer token.
 */

let main: TestServer
let node: RunningNode
const PASSWORD = 'a-long-admin-password'
test.before(async () => {
  main = await startTestServer()
  await main.server.accounts.setPassword('admin', PASSWORD)
  node = await startNode({ dataDir: join(main.dir, 'proxy-node'), swarmKeyFile: join(main.dir, 'data', 'swarm.key'), server: main.server.url, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', name: 'proxy node' })
})
test.after.always(async () => {
  await node?.stop()
  await main?.stop()
})

test('every node with addresses (?all=1) through a node\'s proxy needs an admin, as on the main server', async t => {
  const anonymous = await fetch(`${node.url}/api/v1/nodes?all=1`)
  t.is(anonymous.status, 401)
  t.is((await anonymous.json() as { error: string }).error, 'AuthenticationRequiredError')
  const viewer = await fetch(`${node.url}/api/v1/nodes?all=1`, { headers: bearer(await viewerToken(main.server, 'proxy-viewer')) })
  t.is(viewer.status, 403)
  t.is((await viewer.json() as { error: string }).error, 'PermissionDeniedError')
  const admin = await fetch(`${node.url}/api/v1/nodes?all=1`, { headers: bearer(main.token) })
  t.is(admin.status, 200)
  t.true(Array.isArray((await admin.json() as { items: unknown[] }).items))
  t.is((await fetch(`${node.url}/api/v1/nodes`)).status, 401, 'the node picker\'s list is for signed-in users too')
})

test('a login through the node sets the node site\'s cookie, which the node sends on as a bearer token', async t => {
  const res = await fetch(`${node.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) })
  t.is(res.status, 200)
  const setCookie = res.headers.getSetCookie().find(c => c.startsWith('cidcast_session=')) ?? ''
  t.regex(setCookie, /httponly/i)
  t.notRegex(setCookie, /domain=/i, 'the cookie belongs to the node\'s own site')
  const cookie = setCookie.split(';')[0]
  const me = await fetch(`${node.url}/api/v1/auth/me`, { headers: { Cookie: cookie } })
  t.is(me.status, 200)
  t.is((await me.json() as { name: string }).name, 'admin')
  const foreign = await fetch(`${node.url}/api/v1/auth/logout`, { method: 'POST', headers: { Cookie: cookie, Origin: 'https://evil.example' } })
  t.is(foreign.status, 403, 'another site cannot act through the node with its cookie')
  t.is((await fetch(`${node.url}/api/v1/auth/me`, { headers: { Cookie: cookie } })).status, 200, 'and the session lives on')
  const out = await fetch(`${node.url}/api/v1/auth/logout`, { method: 'POST', headers: { Cookie: cookie, Origin: node.url } })
  t.is(out.status, 204)
  t.regex(out.headers.getSetCookie().join('\n'), /cidcast_session=;/)
  t.is((await fetch(`${node.url}/api/v1/auth/me`, { headers: { Cookie: cookie } })).status, 401)
})

test('adding media by a server path is never passed on by a node, whoever asks', async t => {
  const res = await fetch(`${node.url}/api/v1/media`, { method: 'POST', headers: { ...bearer(main.token), 'Content-Type': 'application/json' }, body: JSON.stringify({ path: '/etc/hostname' }) })
  t.true([404, 405].includes(res.status), String(res.status))
  t.is((await main.server.library.list({ limit: 10 })).length, 0)
})

test('a made-up node credential on the API is refused, never a node\'s read access', async t => {
  const forged = await fetch(`${main.server.url}/api/v1/media`, { headers: { 'X-Cidcast-Node': 'not-a-credential' } })
  t.true([401, 403].includes(forged.status), String(forged.status))
  t.regex((await forged.json() as { error: string }).error, /Token|Credential/)
})
