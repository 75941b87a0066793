import { join } from 'node:path'
import test from 'ava'
import { LEADER_ROUTES, NODE_ROUTES, SERVER_ROUTES } from '../../gateway/access/route-table.ts'
import { startNode } from '../../node/cdn-node.ts'
import { bearer, viewerToken } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import type { Owner, Rule } from '../../gateway/access/route-table.ts'
import type { TestServer } from '../helpers/server.ts'

/*
 * The route census: every route the main server's and a CDN node's Koa apps register is in the route table, and
 * the table holds nothing they do not register; then each route is called as nobody, as a viewer and as an admin,
 * and answers what its owner says. A new route that nobody classified fails here before it can ship open.
 */

/** A path that reaches the route of a key (parameters filled with plausible values; regexes given by hand). */
const SAMPLES: Record<string, string> = {
  '/^\\/ipfs\\/[^/]+(?:\\/.*)?$/': '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  '/^\\/routing\\/v1(?:\\/.*)?$/': '/routing/v1/unknown',
  '/^\\/routing\\/v1\\/.*$/': '/routing/v1/providers/x',
  '/^\\/api\\/v1\\/[A-Za-z0-9_\\-/]+$/': '/api/v1/media',
  '/^\\/api\\/v1\\/media\\/[0-9a-f]{16}\\/progress$/': '/api/v1/media/0123456789abcdef/progress'
}
const PARAMS: Record<string, string> = { id: '0123456789abcdef', profile: '240p', file: '0.m4s', name: 'nobody', entry: '1', number: '1', cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', peerId: '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN' }

function request (key: string): { method: string, path: string } {
  const [method, path] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)]
  const sample = SAMPLES[path] ?? path.replace(/:([A-Za-z]+)/g, (_, name: string) => PARAMS[name] ?? 'x')
  return { method: method === 'ALL' ? 'POST' : method, path: sample }
}

function ownerOf (rule: Rule): Owner {
  return typeof rule === 'function' ? rule({ query: {} } as never, { viewerReplication: false }) : rule
}

async function call (base: string, key: string, headers: Record<string, string> = {}): Promise<{ status: number, error?: string }> {
  const { method, path } = request(key)
  const withBody = ['POST', 'PUT', 'PATCH'].includes(method)
  const res = await fetch(`${base}${path}`, { method, headers: { ...headers, ...(withBody ? { 'Content-Type': 'application/json' } : {}) }, body: withBody ? '{}' : undefined, redirect: 'manual' })
  const text = await res.text()
  let error: string | undefined
  try { error = (JSON.parse(text) as { error?: string }).error } catch {}
  return { status: res.status, error }
}

let main: TestServer
test.before(async () => { main = await startTestServer() })
test.after.always(async () => { await main?.stop() })

test('every route of the main server is in the route table, and the table names no other', t => {
  t.deepEqual(main.server.routes(), Object.keys(SERVER_ROUTES).sort())
})

test('every route only the leader answers is a route of the main server, and none of them is public but the providers', t => {
  for (const key of LEADER_ROUTES) {
    t.true(key in SERVER_ROUTES, key)
    if (key !== 'GET /routing/v1/providers/:cid') t.not(SERVER_ROUTES[key], 'public', key)
  }
})

test('every route of a CDN node is in the route table, and the table names no other', async t => {
  const node = await startNode({ dataDir: join(main.dir, 'census-node'), swarmKeyFile: join(main.dir, 'data', 'swarm.key'), server: 'http://127.0.0.1:9', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' })
  t.teardown(node.stop)
  t.deepEqual(node.routes(), Object.keys(NODE_ROUTES).sort())
})

test('called without credentials, every main-server route answers 401 unless it is public', async t => {
  for (const [key, rule] of Object.entries(SERVER_ROUTES)) {
    const owner = ownerOf(rule)
    const answer = await call(main.server.url, key)
    if (owner === 'viewer' || owner === 'admin') {
      t.is(answer.status, 401, key)
      t.is(answer.error, 'AuthenticationRequiredError', key)
    } else if (owner === 'public' || owner === 'metrics') {
      // metrics: this test calls from the server's own machine, where Prometheus scrapes without a token
      t.false([401, 403].includes(answer.status), `${key} answered ${answer.status}`)
    }
  }
})

test('with a viewer\'s token, admin routes answer 403 and viewer routes let the call through', async t => {
  const headers = bearer(await viewerToken(main.server, 'census-viewer'))
  for (const [key, rule] of Object.entries(SERVER_ROUTES)) {
    const owner = ownerOf(rule)
    if (owner !== 'viewer' && owner !== 'admin') continue
    const answer = await call(main.server.url, key, headers)
    if (owner === 'admin') {
      t.is(answer.status, 403, key)
      t.is(answer.error, 'PermissionDeniedError', key)
    } else {
      t.false([401, 403].includes(answer.status), `${key} answered ${answer.status} ${answer.error ?? ''}`)
    }
  }
})

test('with an admin\'s token, every route lets the call through', async t => {
  const headers = bearer(main.token)
  for (const key of Object.keys(SERVER_ROUTES)) {
    if (key === 'POST /api/v1/auth/logout') continue // it would end the admin's token
    const answer = await call(main.server.url, key, headers)
    t.false([401, 403].includes(answer.status), `${key} answered ${answer.status} ${answer.error ?? ''}`)
  }
})

test('a bad bearer token is refused on any route, public ones too, so a client learns it is bad', async t => {
  for (const token of ['cca_' + 'x'.repeat(43), 'not-a-token']) {
    const answer = await call(main.server.url, 'GET /healthz', bearer(token))
    t.is(answer.status, 401)
    t.is(answer.error, 'InvalidCredentialsError')
  }
  const basic = await fetch(`${main.server.url}/api/v1/media`, { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } })
  t.is(basic.status, 401)
  t.is(basic.headers.get('www-authenticate'), 'Bearer realm="cidcast"')
})
