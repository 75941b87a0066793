import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { generateSwarmKey } from '../../core/config/index.ts'
import { CLI, ROOT, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Daemon } from '../helpers/spawn.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ dir: string, remove: () => Promise<void>, swarmKey: string }>

/** A readable line: local time, level, part, message. */
const PRETTY_LINE = /^\d\d:\d\d:\d\d\.\d{3} (?:TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S+ +\S/
/** Ports the tests never share: every daemon here picks its own. */
const ANY_PORTS = { CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', CIDCAST_LOG_LEVEL: 'info' }

test.before(async t => {
  const dir = await tempDir('cidcast-logs-')
  const swarmKey = join(dir.path, 'swarm.key')
  await writeFile(swarmKey, generateSwarmKey())
  t.context = { dir: dir.path, remove: dir.remove, swarmKey }
})

test.after.always(async t => {
  await t.context.remove?.()
})

async function serverLines (daemon: Daemon): Promise<string[]> {
  try {
    await waitFor(() => /^http:\/\/127\.0\.0\.1:\d+$/m.test(daemon.stdout()), 60_000, `the server's URL (stderr: ${daemon.stderr()})`)
    // the ready line is logged just after the URL is printed
    await waitFor(() => daemon.stdout().includes('main server ready'), 10_000, 'the ready line')
    daemon.child.kill('SIGTERM')
    await daemon.exited
    return daemon.stdout().split('\n').filter(l => l !== '' && !l.startsWith('http://'))
  } finally {
    daemon.child.kill('SIGKILL')
  }
}

test.serial('a daemon whose output is a pipe prints JSON lines, and readable ones with --log-format pretty', async t => {
  const json = await serverLines(runNode([CLI, 'server', '--data', join(t.context.dir, 'json')], ANY_PORTS))
  const entries = json.map(line => JSON.parse(line) as { level: number, name: string, msg: string, url?: string })
  t.true(entries.some(e => e.level === 30 && e.name === 'cidcast:server' && e.msg === 'main server ready' && e.url?.startsWith('http://127.0.0.1:') === true), json.join('\n'))

  const pretty = await serverLines(runNode([CLI, 'server', '--data', join(t.context.dir, 'pretty'), '--log-format', 'pretty'], ANY_PORTS))
  t.true(pretty.length > 3)
  t.true(pretty.every(line => PRETTY_LINE.test(line)), pretty.join('\n'))
  t.true(pretty.some(line => /^\S+ INFO {2}server {5}main server ready url=http:\/\/127\.0\.0\.1:\d+ peerId=12D3KooW\w+ /.test(line)), pretty.join('\n'))
  t.false(pretty.join('\n').includes('\u001b'), 'no colours on a pipe')
})

/**
 * Runs `cidcast node` on a pseudo-terminal (util-linux `script`), stops it once its first lines are out, and returns
 * what the terminal showed.
 */
async function onTerminal (data: string, swarmKey: string, env: Record<string, string>): Promise<string> {
  const command = [process.execPath, CLI, 'node', '--data', data, '--swarm-key', swarmKey, '--server', 'http://127.0.0.1:1', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0']
  // Node's hasColors() says "no colours" when CI is set without a known CI vendor's variable, as on our CI
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !['NO_COLOR', 'FORCE_COLOR', 'NODE_DISABLE_COLORS', 'CI'].includes(key)))
  // `exec`: the shell script starts becomes the daemon, so the daemon is script's child and can be stopped by pid
  const script = spawn('script', ['-qfec', `exec ${command.map(a => `'${a}'`).join(' ')}`, '/dev/null'], {
    cwd: ROOT,
    env: { ...base, TERM: 'xterm-256color', CIDCAST_LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let shown = ''
  script.stdout.on('data', (d: Buffer) => { shown += d.toString() })
  const exited = new Promise<number | null>(resolve => script.once('exit', code => { resolve(code) }))
  try {
    await waitFor(() => shown.includes('CDN node ready'), 60_000, `the ready line on the terminal (so far: ${JSON.stringify(shown)})`)
    const children = (await readFile(`/proc/${script.pid}/task/${script.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number)
    for (const pid of children) process.kill(pid, 'SIGTERM')
    await exited
    return shown
  } finally {
    script.kill('SIGKILL')
  }
}

test.serial('on a terminal a node prints readable lines, coloured unless NO_COLOR is set', async t => {
  const coloured = await onTerminal(join(t.context.dir, 'tty-colour'), t.context.swarmKey, {})
  // eslint-disable-next-line no-control-regex
  const plainOf = (text: string): string[] => text.replace(/\u001b\[[\d;]*m/g, '').split(/\r?\n/).filter(l => PRETTY_LINE.test(l))
  t.true(coloured.includes('\u001b['), JSON.stringify(coloured))
  t.true(plainOf(coloured).some(l => / INFO {2}node {7}CDN node ready url=http:\/\/127\.0\.0\.1:\d+ /.test(l)), coloured)
  t.false(coloured.includes('{"level"'))

  const plain = await onTerminal(join(t.context.dir, 'tty-plain'), t.context.swarmKey, { NO_COLOR: '1' })
  t.false(plain.includes('\u001b['), JSON.stringify(plain))
  t.true(plainOf(plain).some(l => / INFO {2}node {7}CDN node ready /.test(l)), plain)
})
