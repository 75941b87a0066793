import { appendFile, copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import anyTest from 'ava'
import { patchOf } from '../../client/commands/meta.ts'
import { fixture } from '../../fixtures/media.ts'
import { startProviderStub } from '../../fixtures/providers/stub-server.ts'
import { startServer } from '../../node/server.ts'
import { stubConfig } from '../core/metadata/helpers.ts'
import { adminToken, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { cidcast } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ server: RunningServer, id: string, stop: () => Promise<void> }>

test.before(async t => {
  const parts: Array<() => Promise<void>> = []
  t.context.stop = async () => { for (const stop of parts.toReversed()) await stop() }
  const dir = await tempDir('cidcast-meta-cli-')
  parts.push(dir.remove)
  const stub = await startProviderStub()
  parts.push(stub.stop)
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', metadata: stubConfig(stub), accounts: TEST_ACCOUNTS })
  parts.push(server.stop)
  // `cidcast()` runs pointed at this server carry its admin's token
  await adminToken(server)
  const path = join(dir.path, 'Movies', 'The.Matrix.1999.1080p.mp4')
  await mkdir(dirname(path), { recursive: true })
  await copyFile(await fixture('odd-854x480-6s'), path)
  await appendFile(path, Buffer.from('\0\0\0\x10freemeta-cli'))
  const media = await server.addMedia(path)
  await server.metadata.idle()
  Object.assign(t.context, { server, id: media.id })
})

test.after.always(async t => { await t.context.stop?.() })

test.serial('meta show prints the identified metadata', async t => {
  const res = await cidcast('meta', 'show', t.context.id, '--server', t.context.server.url)
  t.is(res.code, 0, res.stderr)
  t.regex(res.stdout, /^title {6}The Matrix$/m)
  t.regex(res.stdout, /^year {7}1999$/m)
  t.regex(res.stdout, /^ids {8}imdb tt0133093, tmdb 603$/m)
  t.regex(res.stdout, /^collection The Matrix Collection \(/m)
  const json = await cidcast('meta', 'show', t.context.id, '--json', '--server', t.context.server.url)
  t.like(JSON.parse(json.stdout), { title: 'The Matrix', ids: { tmdb: 603 } })
})

test.serial('meta set edits and locks fields; history and revert undo it', async t => {
  const { url } = t.context.server
  const set = await cidcast('meta', 'set', t.context.id, 'title=The Matrix (Director\'s Cut)', 'year=1999', 'tagline=', '--server', url)
  t.is(set.code, 0, set.stderr)
  t.regex(set.stdout, /^updated .*title.*: [0-9a-f]{16} The Matrix \(Director's Cut\)$/m)
  t.regex((await cidcast('meta', 'show', t.context.id, '--server', url)).stdout, /^locked {5}tagline, title, year$/m)
  const history = await cidcast('meta', 'history', t.context.id, '--server', url)
  const line = history.stdout.trim().split('\n').find(l => l.includes('\tedit'))
  t.truthy(line)
  t.regex(line ?? '', /title: "The Matrix" -> "The Matrix \(Director's Cut\)"/)
  const revert = await cidcast('meta', 'revert', t.context.id, (line ?? '').split('\t')[0], '--server', url)
  t.is(revert.code, 0, revert.stderr)
  t.regex(revert.stdout, /^reverted \d+ .*: [0-9a-f]{16} The Matrix$/m)
})

test.serial('meta identify lists matches and applies the one picked', async t => {
  const { url } = t.context.server
  const list = await cidcast('meta', 'identify', t.context.id, '--server', url)
  t.is(list.code, 0, list.stderr)
  const lines = list.stdout.trim().split('\n')
  t.is(lines[0], '1\ttmdb\tmovie\t603\tThe Matrix (1999)')
  const n = lines.findIndex(l => l.includes('\t604\t')) + 1
  const picked = await cidcast('meta', 'identify', t.context.id, '--pick', String(n), '--server', url)
  t.is(picked.code, 0, picked.stderr)
  t.regex(picked.stdout, /^title {6}The Matrix Reloaded$/m)
  const direct = await cidcast('meta', 'identify', t.context.id, '--match', 'tmdb:603', '--server', url)
  t.regex(direct.stdout, /^title {6}The Matrix$/m)
})

test.serial('bad input fails with one line and a non-zero exit', async t => {
  const { url } = t.context.server
  for (const args of [['set', t.context.id, 'year=99999'], ['set', t.context.id, 'colour=red'], ['set', t.context.id, 'no-equals'], ['show', '0000000000000000'], ['revert', t.context.id, 'x'], ['identify', t.context.id, '--pick', '99']]) {
    const res = await cidcast('meta', ...args, '--server', url)
    t.not(res.code, 0, args.join(' '))
    t.is(res.stderr.trim().split('\n').length, 1, res.stderr)
  }
  t.regex((await cidcast('meta', 'show', '0000000000000000', '--server', url)).stderr, /MediaNotFoundError/)
})

test('field=value arguments become a PATCH body', t => {
  t.deepEqual(patchOf(['title=A=B', 'year=2001', 'imdb=tt0133093', 'tmdb=603', 'overview='], ['kind'], ['poster']), { title: 'A=B', year: 2001, ids: { imdb: 'tt0133093', tmdb: 603 }, overview: null, lock: ['kind'], unlock: ['poster'] })
})
