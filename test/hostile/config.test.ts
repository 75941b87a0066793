import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { limitConcurrency } from '../../core/concurrency.ts'
import { assertNoInternals } from '../helpers/hostile.ts'
import { CLI } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { TestFn } from 'ava'

/*
 * Hostile configuration of the `cidcast server` and `cidcast node` daemons (environment, `<data>/config.json`,
 * `swarm.key`): each makes the CLI exit non-zero at once with one readable line naming what is wrong, never a
 * stack trace, and never starts listening. Each start costs seconds: the cases are one of each kind (an environment
 * value, config.json, swarm.key, for both daemons); test/core/config/ checks every key's parser in-process.
 */

const test = anyTest as TestFn<{ dir: string, remove: () => Promise<void> }>

test.before(async t => {
  const dir = await tempDir('cidcast-hostile-config-')
  t.context = { dir: dir.path, remove: dir.remove }
})

test.after.always(async t => { await t.context.remove?.() })

interface ConfigCase {
  what: string
  program: 'server' | 'node'
  env?: Record<string, string>
  args?: string[]
  /** Files written into the data folder first. */
  files?: Record<string, string | Buffer>
  /** What the one line must name (the key, or the file). */
  names: RegExp
  /** The folder the CLI runs in. @default this process's */
  cwd?: string
}

const SWARM_KEY = `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(32)}\n`

const CASES: ConfigCase[] = [
  { what: 'a negative session count', program: 'server', env: { CIDCAST_MAX_SESSIONS: '-3' }, names: /maxSessions|CIDCAST_MAX_SESSIONS/ },
  // from the sources, the project's tsconfig must be found wherever the CLI runs (it once failed as a bare "TypeError")
  { what: 'a negative session count, run from another folder', program: 'server', env: { CIDCAST_MAX_SESSIONS: '-3' }, cwd: '/', names: /maxSessions|CIDCAST_MAX_SESSIONS/ },
  { what: 'a config.json that is not JSON', program: 'server', files: { 'config.json': '{"listen": ' }, names: /config\.json/ },
  { what: 'a config.json with a session count as text', program: 'server', files: { 'config.json': '{"maxSessions": "many"}' }, names: /maxSessions/ },
  { what: 'a swarm.key of garbage', program: 'server', files: { 'swarm.key': 'garbage\n' }, names: /swarm\.key|swarm key/i },
  { what: 'a distribution section with a field it does not know', program: 'server', files: { 'config.json': '{"distribution": {"maxCopies": 3}}' }, names: /distribution\.maxCopies is not a setting/ },
  { what: 'a distribution max of 1e999 from the environment', program: 'server', env: { CIDCAST_DISTRIBUTION: '{"max": 1e999}' }, names: /distribution\.max must be a whole number/ },
  { what: 'a distribution late pre-cache mark before the early one', program: 'server', files: { 'config.json': '{"distribution": {"precacheAt": 0.9, "precacheLateAt": 0.8}}' }, names: /distribution\.precacheLateAt \(0\.8\) must not be below distribution\.precacheAt/ },
  { what: 'a node mode outside the enum', program: 'node', env: { CIDCAST_NODE_MODE: 'public' }, files: { 'swarm.key': SWARM_KEY }, names: /mode|CIDCAST_NODE_MODE/ },
  { what: 'a javascript: server URL', program: 'node', args: ['--server', 'javascript:alert(1)'], files: { 'swarm.key': SWARM_KEY }, names: /server/ },
  { what: 'a node region of 10 kB', program: 'node', args: ['--region', 'r'.repeat(10_000)], files: { 'swarm.key': SWARM_KEY }, names: /region must be 1-32 of a-z/ },
  { what: 'a node swarm.key of binary garbage', program: 'node', files: { 'swarm.key': Buffer.from([0, 1, 2, 0xff, 0xfe]) }, names: /swarm\.key|swarm key/i }
]

/** CLIs running at once: each start costs seconds of CPU (tsx), and the machine may have two cores. */
const AT_ONCE = 2
/** Runs a CLI once fewer than AT_ONCE others run (ava starts this file's tests together). */
const inTurn = limitConcurrency(AT_ONCE)

let made = 0
for (const c of CASES) {
  test(`cidcast ${c.program} with ${c.what} exits non-zero with one line naming it`, async t => {
    const data = join(t.context.dir, `case-${++made}`)
    await mkdir(data, { recursive: true })
    for (const [name, content] of Object.entries(c.files ?? {})) await writeFile(join(data, name), content)
    // free ports, so a case that wrongly starts fails on its own output rather than on a taken port
    const ports = ['--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', ...c.program === 'server' ? ['--dns-listen', '127.0.0.1:0'] : []]
    // a node is pointed at a port nobody answers on: the case's own fault must be found before any dial
    const server = c.program === 'node' ? ['--server', 'http://127.0.0.1:9'] : []
    const args = [CLI, c.program, '--data', data, ...ports, ...server, ...c.args ?? []]
    // the suite sets CIDCAST_DISTRIBUTION (ava.config.js), which would hide a config.json's distribution section
    const { CIDCAST_SERVER: _server, CIDCAST_TOKEN: _token, CIDCAST_DISTRIBUTION: _distribution, ...inherited } = process.env
    const env = { ...inherited, CIDCAST_FROM_SOURCE: '1', CIDCAST_LOG_LEVEL: 'warn', ...c.env }
    const run = await inTurn(async () => await new Promise<{ code: number | string | null, stderr: string, stdout: string }>(resolve => {
      execFile(process.execPath, args, { env, timeout: 60_000, cwd: c.cwd }, (err, stdout, stderr) => {
        resolve({ code: err == null ? 0 : (err as { code?: number | string }).code ?? (err as { signal?: string }).signal ?? 1, stdout, stderr })
      })
    }))
    t.not(run.code, 0, `${c.what}: it exited 0 (${run.stdout.slice(0, 200)})`)
    t.not(run.code, 'SIGTERM', `${c.what}: it did not exit (it started?)`)
    const lines = run.stderr.trim().split('\n').filter(l => l.trim() !== '')
    t.is(lines.length, 1, `${c.what}: ${run.stderr.slice(0, 600)}`)
    t.regex(lines[0] ?? '', c.names, c.what)
    assertNoInternals(t, run.stderr, [], c.what)
    t.false(run.stdout.includes('http://'), `${c.what}: it must not have started`)
  })
}
