import { execFile } from 'node:child_process'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

const CLI = fileURLToPath(new URL('../../bin/cidcast.js', import.meta.url))
const test = anyTest as TestFn<{ server: RunningServer, dir: string, remove: () => Promise<void> }>

async function cidcast (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CIDCAST_SERVER: '' } }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
    })
  })
}

test.before(async t => {
  const dir = await tempDir()
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' })
  t.context = { server, dir: dir.path, remove: dir.remove }
})

test.after.always(async t => {
  await t.context.server?.stop()
  await t.context.remove?.()
})

test('init writes a Kubo-format swarm key and refuses to overwrite it', async t => {
  const data = join(t.context.dir, 'init')
  const first = await cidcast('init', '--data', data)
  t.is(first.code, 0, first.stderr)
  t.regex(await readFile(join(data, 'swarm.key'), 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n?$/)
  const second = await cidcast('init', '--data', data)
  t.not(second.code, 0)
  t.is(second.stderr.trim().split('\n').length, 1)
  t.regex(second.stderr, /SwarmKeyExistsError/)
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
