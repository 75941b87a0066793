import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { Resolver } from 'node:dns/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../../fixtures/media.ts'
import { startServer } from '../../../node/server.ts'
import { NODE_VERSION_LINE } from '../../../node/node-main.ts'
import { HOST_TARGET } from '../../../node/sea/targets.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../../helpers/auth.ts'
import { runExecutable, testExecutables } from '../../helpers/executable.ts'
import { ROOT, runNode } from '../../helpers/spawn.ts'
import { streamToken, withToken } from '../../helpers/stream-url.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { RunningServer } from '../../../node/server.ts'
import type { Daemon } from '../../helpers/spawn.ts'
import type { TestFn } from 'ava'

/*
 * The CDN node as one executable file (`npm run package`), run as a user would: copied alone into a folder, started
 * from an empty working folder with a HOME of its own and a PATH that holds no `node` (nor anything else), against a
 * real main server in this process. The arm64 build runs under qemu-user (Debian's qemu-user-static, with the arm64
 * C libraries of libc6-arm64-cross and libstdc++6-arm64-cross). The tests run one at a time: two cores.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  server: RunningServer
  /** The executables by target, as built (or kept) in the cache folder. */
  executables: Map<string, string>
  media: { id: string, root: string, segment: string }
}

const test = anyTest as TestFn<Context>
const QEMU = '/usr/bin/qemu-aarch64-static'
const ARM64_LIBRARIES = '/usr/aarch64-linux-gnu'
/** Emulated, the node starts in ~10 s here; a loaded CI machine may take several times that. */
const EMULATED_START_MS = 180_000

test.before(async t => {
  const dir = await tempDir('cidcast-sea-')
  const executables = await testExecutables('', line => { t.log(line) })
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context = { dir: dir.path, remove: dir.remove, server, executables, media: { id: '', root: '', segment: '' } }
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  t.context.media = { id: media.id, root, segment: '0.m4s' }
})

test.after.always(async t => {
  await t.context.server?.stop()
  await t.context.remove?.()
})

/** Kills `daemon` if it is still running (after a failed test). */
function cleanup (daemon: Daemon): void {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL')
}

test.serial('the executable prints its version and the protocol versions on one line', async t => {
  const machine = await machineFor(t.context, 'version', HOST_TARGET)
  const run = runExecutable(machine.file, ['--version'], machine)
  t.is(await run.exited, 0, run.stderr())
  t.is(run.stdout(), `${NODE_VERSION_LINE}\n`)
  t.regex(NODE_VERSION_LINE, /^cidcast-node \d+\.\d+\.\d+ \(control \/cidcast\/control\/\d+\.\d+\.\d+, orders \/cidcast\/orders\/\d+\.\d+\.\d+\)$/)
})

test.serial('started with no arguments and no node in the platform\'s data folder, the executable serves its setup page on loopback and prints where', async t => {
  const machine = await machineFor(t.context, 'setup', HOST_TARGET)
  const run = runExecutable(machine.file, [], machine)
  t.teardown(() => { cleanup(run) })
  // 8081 by default; a taken default moves to a free port, and the line says which
  const url = await waitFor(() => /^set this node up at (http:\/\/127\.0\.0\.1:\d+\/setup)$/m.exec(run.stdout())?.[1], 60_000, `the setup URL (${run.stderr()})`)
  const page = await fetch(url)
  t.is(page.status, 200)
  t.regex(await page.text(), /Set up your cidcast node/)
  const folder = await (await fetch(`${url}/folder`)).json() as { folder: string }
  t.is(folder.folder, join(machine.home, '.local', 'share', 'cidcast-node'), 'the XDG data folder offered')
  run.child.kill('SIGTERM')
  t.is(await run.exited, 0, run.stderr())
})

test.serial('run from an empty folder with no node on PATH, the executable joins with an invitation\'s token alone (spent after), registers, is named in the main server\'s DNS, serves a pinned segment from its own blocks, stops on SIGTERM and resumes after a restart', async t => {
  const { server, media } = t.context
  const machine = await machineFor(t.context, 'node', HOST_TARGET)
  // invited on the main server, joined with the token alone: no swarm.key copied, no server URL typed
  const invitation = await (await fetch(`${server.url}/api/v1/nodes/invitations`, { method: 'POST', headers: { ...bearer(await adminToken(server)), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Packaged' }) })).json() as { token: string }
  const first = runExecutable(machine.file, ['join', invitation.token, '--data', 'data', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], machine)
  t.teardown(() => { cleanup(first) })
  const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(first.stdout())?.[1], 60_000, `the gateway URL (${first.stderr()})`)
  const dnsName = await waitFor(() => /^dns: (\S+)$/m.exec(first.stdout())?.[1], 60_000, 'the DNS name')
  t.is(dnsName, 'packaged.cidcast.internal')

  // the main server lists it, and its DNS answers for it
  const token = await adminToken(server)
  const listed = await (await fetch(`${server.url}/api/v1/nodes`, { headers: bearer(token) })).json() as { items: Array<{ name: string, label: string, state: string, url: string }> }
  t.like(listed.items.find(n => n.name === 'Packaged'), { label: 'packaged', state: 'online', url: `${url}/` })
  const resolver = new Resolver()
  resolver.setServers([`127.0.0.1:${server.dns.address().port}`])
  t.deepEqual(await resolver.resolve4(dnsName), ['127.0.0.1'])
  const health = await (await fetch(`${url}/healthz`)).json() as { ipns: string }
  t.deepEqual(await resolver.resolveTxt(`_dnslink.${dnsName}`), [[`dnslink=/ipns/${health.ipns}`]])

  // a pin ordered by the main server: the segment then comes from the node's own blocks
  await server.replication.pin({ cid: media.root, node: 'packaged' })
  await waitFor(async () => {
    const rows = await (await fetch(`${server.url}/api/v1/replications?node=packaged&cid=${media.root}`, { headers: bearer(token) })).json() as { items: Array<{ state: string }> }
    return rows.items[0]?.state === 'pinned'
  }, 60_000, 'the node to pin the rendition')
  const stream = await streamToken(server, media.id)
  const segmentPath = `/media/${media.id}/360p/${media.segment}`
  const served = await fetch(withToken(`${url}${segmentPath}`, stream))
  t.is(served.status, 200)
  t.is(served.headers.get('x-cidcast-source'), 'local')
  const bytes = Buffer.from(await served.arrayBuffer())
  t.true(bytes.equals(Buffer.from(await (await fetch(withToken(`${server.url}${segmentPath}`, stream))).arrayBuffer())))
  // the web UI it carries, as the npm-installed node serves it
  const page = await fetch(`${url}/`)
  t.is(page.status, 200)
  t.is(await page.text(), await readFile(join(ROOT, 'client', 'public', 'index.html'), 'utf8'))

  // what it needs as files (the native addon, the UI) went to the user's cache folder, named by content
  const cache = join(machine.home, '.cache', 'cidcast-node')
  const unpacked = (await readdir(cache)).sort()
  t.is(unpacked.length, 2, unpacked.join(', '))
  t.regex(unpacked[0], /^classic-level-[0-9a-f]{32}\.node$/)
  t.regex(unpacked[1], /^ui-[0-9a-f]{32}$/)
  const addonWritten = (await stat(join(cache, unpacked[0]))).mtimeMs

  // the token is spent: another node with it gets one line and nothing runs
  const second = runExecutable(machine.file, ['join', invitation.token, '--data', 'other', '--log-level', 'warn'], machine)
  t.is(await second.exited, 1)
  t.regex(second.stderr(), /^error: InvitationSpentError: this invitation was used by another node on \S+: ask for a new one\n$/)

  first.child.kill('SIGTERM')
  t.is(await first.exited, 0, first.stderr())

  // the data folder is all a restart needs; it registers under the same name and still holds the rendition
  const again = runExecutable(machine.file, ['--data', 'data', '--log-level', 'warn'], machine)
  t.teardown(() => { cleanup(again) })
  t.is(await waitFor(() => /^dns: (\S+)$/m.exec(again.stdout())?.[1], 60_000, `the DNS name after the restart (${again.stderr()})`), dnsName)
  const restartedUrl = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(again.stdout())?.[1], 10_000, 'the gateway URL after the restart')
  const resumed = await fetch(withToken(`${restartedUrl}${segmentPath}`, stream))
  t.is(resumed.headers.get('x-cidcast-source'), 'local')
  t.true(Buffer.from(await resumed.arrayBuffer()).equals(bytes))
  t.is((await stat(join(cache, unpacked[0]))).mtimeMs, addonWritten, 'the unpacked addon is reused, not written again')
  again.child.kill('SIGTERM')
  t.is(await again.exited, 0, again.stderr())
})

test.serial('the arm64 executable runs under qemu-user: --version, and /healthz once started with a data folder', async t => {
  t.true((await stat(QEMU).catch(() => undefined))?.isFile() === true, `${QEMU} is missing: install qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross (.ci/run does)`)
  const machine = await machineFor(t.context, 'arm64', 'linux-arm64')
  const emulated = (args: string[]): Daemon => runExecutable(QEMU, ['-L', ARM64_LIBRARIES, machine.file, ...args], machine)
  const version = emulated(['--version'])
  t.is(await version.exited, 0, version.stderr())
  t.is(version.stdout(), `${NODE_VERSION_LINE}\n`)

  const swarmKey = join(t.context.dir, 'server', 'swarm.key')
  const node = emulated(['--data', 'data', '--server', t.context.server.url, '--swarm-key', swarmKey, '--name', 'Emulated', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'])
  t.teardown(() => { cleanup(node) })
  const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(node.stdout())?.[1], EMULATED_START_MS, `the emulated node's gateway URL (${node.stderr()})`)
  const health = await waitFor(async () => {
    const res = await fetch(`${url}/healthz`).catch(() => undefined)
    return res?.status === 200 ? await res.json() as { role: string, name: string } : undefined
  }, EMULATED_START_MS, 'the emulated node\'s /healthz')
  t.like(health, { role: 'node', name: 'Emulated' })
  node.child.kill('SIGTERM')
  t.is(await node.exited, 0, node.stderr())
})

test.serial('npm run package with an unknown target or option prints one line and exits with code 2', async t => {
  for (const args of [['--target', 'linux-x64,plan9-mips'], ['--bogus']]) {
    const run = runNode(['--import=tsx', join(ROOT, 'bin', 'package-node.ts'), ...args])
    t.is(await run.exited, 2, args.join(' '))
    const lines = run.stderr().trim().split('\n')
    t.is(lines.length, 1, run.stderr())
    t.regex(lines[0], args[0] === '--target' ? /^package-node: unknown target "plan9-mips": choose from linux-x64, linux-arm64$/ : /^package-node: .*--bogus/)
  }
})

/** A user's machine for one test: `<dir>/<name>/bin/` holding only the target's executable, an empty working folder, a HOME, and a PATH with nothing on it. */
async function machineFor (context: Context, name: string, target: string): Promise<{ file: string, cwd: string, home: string, env: Record<string, string> }> {
  const built = context.executables.get(target)
  if (built == null) throw new Error(`no executable for ${target}`)
  const base = join(context.dir, name)
  const bin = join(base, 'bin')
  const cwd = join(base, 'work')
  const home = join(base, 'home')
  const path = join(base, 'empty-path')
  for (const folder of [bin, cwd, home, path]) await mkdir(folder, { recursive: true })
  const file = join(bin, 'cidcast-node')
  await copyFile(built, file)
  return { file, cwd, home, env: { HOME: home, PATH: path } }
}
