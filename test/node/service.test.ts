import { execFile } from 'node:child_process'
import { access, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { Command } from 'commander'
import { generateSwarmKey, NODE_CONFIG_FILE, SWARM_KEY_FILE } from '../../core/config/index.ts'
import { addServiceCommands, install, serviceComponents, status, uninstall } from '../../node/service.ts'
import { currentProgram, execStartWords, parseExecStart, renderUnit, unitDataFolder } from '../../node/service-unit.ts'
import { CLI } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { Account, ServiceComponents, SystemctlResult } from '../../node/service.ts'
import type { NodeProgram, UnitOptions } from '../../node/service-unit.ts'
import type { ExecutionContext } from 'ava'

/*
 * The node as a systemd service (issue 14, item 4). Units are checked by systemd itself: `systemd-analyze verify`
 * (the unit loads with no warning, its program exists) and `systemd --test`, which prints the argv systemd read from
 * ExecStart=. Neither needs a running systemd; install, uninstall and status run with a recording systemctl, unit
 * folders of their own and any user id, as on a machine (or CI container) where systemd is not PID 1.
 */

const SYSTEMD = '/lib/systemd/systemd'
const UID = process.geteuid?.() ?? 0

/** A process run to its end. */
async function run (file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<SystemctlResult> {
  return await new Promise(resolve => {
    execFile(file, args, { env }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** `systemd-analyze [--user] verify` of a unit file: its exit code and the lines it printed about that file. */
async function verify (t: ExecutionContext, path: string, user = false): Promise<{ code: number, warnings: string[] }> {
  // a user manager's verify needs a runtime folder, which a container has none of
  const runtime = await tempDir('cidcast-service-runtime-')
  t.teardown(runtime.remove)
  const result = await run('systemd-analyze', [...user ? ['--user'] : [], 'verify', '--man=no', path], { ...process.env, XDG_RUNTIME_DIR: runtime.path })
  const name = path.slice(path.lastIndexOf('/') + 1)
  return { code: result.code, warnings: result.stderr.split('\n').filter(l => l.includes(name)) }
}

/** A unit file in a fresh folder of its own, as systemd wants it named. */
async function unitFile (t: ExecutionContext, text: string, name = 'cidcast-node.service'): Promise<string> {
  const dir = await tempDir('cidcast-service-unit-')
  t.teardown(dir.remove)
  // `systemd --test` runs as another user than root: it must read the folder
  await chmod(dir.path, 0o755)
  const path = join(dir.path, name)
  await writeFile(path, text, { mode: 0o644 })
  return path
}

/** The words of ExecStart as systemd read them (`systemd --test` dumps the unit; it refuses to run as root). */
async function systemdReads (path: string): Promise<string[]> {
  const dir = path.slice(0, path.lastIndexOf('/'))
  const unit = path.slice(dir.length + 1)
  const args = ['--test', '--system', `--unit=${unit}`, '--no-pager', '--log-target=console']
  // the trailing colon keeps systemd's own folders too: the test transaction needs sysinit.target
  const env = `SYSTEMD_UNIT_PATH=${dir}:`
  const result = UID === 0
    ? await run('runuser', ['-u', 'nobody', '--', 'env', env, SYSTEMD, ...args])
    : await run(SYSTEMD, args, { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` })
  const at = result.stdout.indexOf(`-> Unit ${unit}:`)
  const end = result.stdout.indexOf('-> Unit ', at + 1)
  const dump = at < 0 ? '' : result.stdout.slice(at, end < 0 ? undefined : end)
  const line = /^\s*Command Line: (.*)$/m.exec(dump)?.[1]
  if (line == null) throw new Error(`systemd --test did not show ${unit}: ${result.stderr.split('\n')[0]}`)
  // the dump quotes as a shell would (backslash escapes inside double quotes); `$$` becomes `$` only when the
  // command is run, where systemd substitutes environment variables
  const words: string[] = []
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push((m[1] ?? m[2]).replace(/\\(.)/g, '$1').replaceAll('$$', '$'))
  return words
}

/** An executable file (a stand-in for the single executable) at `path`. */
async function executable (path: string): Promise<string> {
  await mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true })
  await writeFile(path, '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  return path
}

/** A data folder the node was set up in: swarm.key and node.json. */
async function nodeData (t: ExecutionContext, name = 'Living Room', folder = 'node'): Promise<string> {
  const dir = await tempDir('cidcast-service-data-')
  t.teardown(dir.remove)
  const data = join(dir.path, folder)
  await mkdir(data, { recursive: true })
  await writeFile(join(data, SWARM_KEY_FILE), generateSwarmKey(), { mode: 0o600 })
  await writeFile(join(data, NODE_CONFIG_FILE), JSON.stringify({ name }))
  return data
}

/** The value of `Key=` in a unit's text (the first one), or undefined. */
function setting (text: string, key: string): string | undefined {
  return text.split('\n').find(l => l.startsWith(`${key}=`))?.slice(key.length + 1)
}

const NPM: NodeProgram = currentProgram()

function systemUnit (overrides: Partial<UnitOptions> = {}): string {
  return renderUnit({ nodeName: 'Living Room', program: NPM, data: '/var/lib/cidcast-node', scope: 'system', runAs: { user: 'cidcast', group: 'cidcast' }, cacheDir: '/var/lib/cidcast/.cache/cidcast-node', ...overrides })
}

/** Components that touch nothing of the machine's: a recording systemctl, temporary unit folders, `uid` as told. */
interface Fake {
  components: ServiceComponents
  calls: string[][]
  lines: string[]
  systemDir: string
  userDir: string
}

async function fake (t: ExecutionContext, overrides: Partial<ServiceComponents> = {}, answer: (args: string[]) => SystemctlResult = () => ({ code: 0, stdout: '', stderr: '' })): Promise<Fake> {
  const root = await tempDir('cidcast-service-root-')
  t.teardown(root.remove)
  const calls: string[][] = []
  const lines: string[] = []
  const account = async (user: string): Promise<Account> => ({ user, uid: UID, group: `${user}-group`, gid: 4242, home: join(root.path, 'home', user) })
  const components = serviceComponents({
    systemctl: async args => { calls.push(args); return answer(args) },
    account,
    uid: UID,
    env: { XDG_CONFIG_HOME: join(root.path, 'config'), SUDO_USER: 'alice' },
    systemUnitDir: join(root.path, 'etc', 'systemd', 'system'),
    print: line => { lines.push(line) },
    program: NPM,
    ...overrides
  })
  return { components, calls, lines, systemDir: join(root.path, 'etc', 'systemd', 'system'), userDir: join(root.path, 'config', 'systemd', 'user') }
}

test('an npm install\'s service runs node with the CLI entry and the node verb; the single executable runs itself with --data alone', t => {
  t.deepEqual(NPM, { sea: false, execPath: process.execPath, cliEntry: CLI })
  t.deepEqual(execStartWords(NPM, '/srv/node'), [process.execPath, CLI, 'node', '--data', '/srv/node'])
  t.deepEqual(execStartWords({ sea: true, execPath: '/opt/cidcast-node' }, '/srv/node'), ['/opt/cidcast-node', '--data', '/srv/node'])
})

test('a system unit restarts on failure, logs to the journal, runs as its user in a read-only system with the data and cache folders writable, and passes systemd-analyze verify', async t => {
  const text = systemUnit()
  const path = await unitFile(t, text)
  t.deepEqual(await verify(t, path), { code: 0, warnings: [] })
  t.is(setting(text, 'Description'), 'cidcast CDN node Living Room')
  t.is(setting(text, 'After'), 'network-online.target')
  t.is(setting(text, 'Wants'), 'network-online.target')
  t.deepEqual(parseExecStart(setting(text, 'ExecStart') ?? ''), [process.execPath, CLI, 'node', '--data', '/var/lib/cidcast-node'])
  t.deepEqual(await systemdReads(path), [process.execPath, CLI, 'node', '--data', '/var/lib/cidcast-node'])
  for (const [key, value] of [['Type', 'exec'], ['Restart', 'on-failure'], ['KillSignal', 'SIGTERM'], ['StandardOutput', 'journal'], ['StandardError', 'journal'], ['SyslogIdentifier', 'cidcast-node'],
    ['User', 'cidcast'], ['Group', 'cidcast'], ['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['WantedBy', 'multi-user.target']]) {
    t.is(setting(text, key), value, key)
  }
  t.regex(setting(text, 'RestartSec') ?? '', /^\d+$/)
  t.regex(setting(text, 'TimeoutStopSec') ?? '', /^\d+$/)
  t.is(setting(text, 'ReadWritePaths'), '"/var/lib/cidcast-node" "-/var/lib/cidcast/.cache/cidcast-node"')
})

test('a user unit passes systemd-analyze --user verify, is wanted by default.target and has no User= or sandbox a user manager may refuse', async t => {
  const text = renderUnit({ nodeName: 'Laptop', program: NPM, data: '/home/alice/node', scope: 'user' })
  t.deepEqual(await verify(t, await unitFile(t, text), true), { code: 0, warnings: [] })
  t.is(setting(text, 'WantedBy'), 'default.target')
  t.is(setting(text, 'Restart'), 'on-failure')
  t.is(setting(text, 'NoNewPrivileges'), 'yes')
  for (const key of ['User', 'Group', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'ReadWritePaths', 'After', 'Wants']) t.is(setting(text, key), undefined, key)
})

test('a data folder and an executable with spaces, $, % and quotes are quoted so that systemd reads them back unchanged', async t => {
  const dir = await tempDir('cidcast-service-exe-')
  t.teardown(dir.remove)
  const exe = await executable(join(dir.path, 'my apps $HOME 100%', 'cidcast node'))
  const data = '/home/alice/My Media $USER 50% "node" \\ ;'
  const text = renderUnit({ nodeName: 'Bob\'s 100% \\', program: { sea: true, execPath: exe }, data, scope: 'system', runAs: { user: 'alice', group: 'alice' }, cacheDir: '/home/alice/.cache/cidcast-node' })
  const path = await unitFile(t, text)
  t.deepEqual(await verify(t, path), { code: 0, warnings: [] })
  t.deepEqual(await systemdReads(path), [exe, '--data', data])
  t.deepEqual(await verify(t, await unitFile(t, renderUnit({ nodeName: 'x', program: { sea: true, execPath: exe }, data, scope: 'user' })), true), { code: 0, warnings: [] })
  // the folders are in /home: hidden by ProtectHome=yes, read-only keeps them reachable and ReadWritePaths= writable
  t.is(setting(text, 'ProtectHome'), 'read-only')
  t.is(setting(text, 'Description'), 'cidcast CDN node Bob\'s 100%%')
  t.is(unitDataFolder(text), data)
})

test('the checks above can fail: systemd-analyze names a bad setting, and a program that is not there', async t => {
  const text = systemUnit().replace('Type=exec', 'Type=exec\nRestartSecs=5')
  const bad = await verify(t, await unitFile(t, text))
  t.is(bad.code, 0, 'an unknown key is only a warning')
  t.regex(bad.warnings.join('\n'), /Unknown key 'RestartSecs'/)
  const missing = await verify(t, await unitFile(t, systemUnit({ program: { sea: true, execPath: '/nonexistent/cidcast-node' } })))
  t.not(missing.code, 0)
  t.regex(missing.warnings.join('\n'), /is not executable/)
})

test('a path systemd cannot take in a unit is refused with one line', t => {
  const refused = [
    { program: { sea: true, execPath: '/opt/it\'s/cidcast-node' } },
    { program: { sea: true, execPath: '/opt/a\\b/cidcast-node' } },
    { data: '/srv/one\ntwo' },
    { data: 'relative/node' }
  ]
  for (const options of refused) {
    const err = t.throws(() => systemUnit(options), { name: 'UnitPathError' })
    t.false(err?.message.includes('\n'), err?.message)
  }
})

test('install --user writes the unit under XDG_CONFIG_HOME, reloads and enables it, and starts it with --now (restarts it when installed again)', async t => {
  const f = await fake(t)
  const data = await nodeData(t)
  const first = await install(f.components, { data, user: true })
  t.is(first.path, join(f.userDir, 'cidcast-node.service'))
  t.is(await readFile(first.path, 'utf8'), first.text)
  t.deepEqual(await verify(t, first.path, true), { code: 0, warnings: [] })
  t.deepEqual(parseExecStart(setting(first.text, 'ExecStart') ?? ''), [process.execPath, CLI, 'node', '--data', data])
  t.deepEqual(f.calls, [['--user', 'daemon-reload'], ['--user', 'enable', 'cidcast-node.service']])
  t.true(f.lines.some(l => l.startsWith('start it now: systemctl --user start cidcast-node.service')), f.lines.join('\n'))
  t.true(f.lines.includes('logs: journalctl --user -u cidcast-node.service -f'))

  f.calls.length = 0
  await install(f.components, { data, user: true, now: true, name: 'attic' })
  t.deepEqual(f.calls.at(-1), ['--user', 'start', 'cidcast-node-attic.service'])
  f.calls.length = 0
  await install(f.components, { data, user: true, now: true, name: 'attic' })
  t.deepEqual(f.calls, [['--user', 'daemon-reload'], ['--user', 'enable', 'cidcast-node-attic.service'], ['--user', 'restart', 'cidcast-node-attic.service']])
})

test('a system install runs the node as the user behind sudo, in the system unit folder, and makes the executable\'s cache folder theirs', async t => {
  const dir = await tempDir('cidcast-service-exe-')
  t.teardown(dir.remove)
  const exe = await executable(join(dir.path, 'cidcast-node'))
  const f = await fake(t, { uid: 0, program: { sea: true, execPath: exe } })
  const data = await nodeData(t, 'Attic')
  const { path, text } = await install(f.components, { data, now: true })
  t.is(path, join(f.systemDir, 'cidcast-node.service'))
  t.deepEqual(await verify(t, path), { code: 0, warnings: [] })
  t.is(setting(text, 'User'), 'alice')
  t.is(setting(text, 'Group'), 'alice-group')
  t.is(setting(text, 'Description'), 'cidcast CDN node Attic')
  t.deepEqual(await systemdReads(await unitFile(t, text)), [exe, '--data', data])
  const cache = join(path.slice(0, path.indexOf('/etc/')), 'home', 'alice', '.cache', 'cidcast-node')
  t.is(setting(text, 'ReadWritePaths'), `"${data}" "-${cache}"`)
  await access(cache)
  t.deepEqual(f.calls, [['daemon-reload'], ['enable', 'cidcast-node.service'], ['start', 'cidcast-node.service']])
  t.true(f.lines.includes('enabled cidcast-node.service: it starts at boot and restarts after a failure'), f.lines.join('\n'))

  const other = await fake(t, { uid: 0, env: {} })
  t.is(setting((await install(other.components, { data, runAs: 'bob' })).text, 'User'), 'bob')
})

test('uninstall stops, disables and removes the unit, then reloads; a unit not installed is one line', async t => {
  const f = await fake(t)
  const { path } = await install(f.components, { data: await nodeData(t), user: true, name: 'attic' })
  f.calls.length = 0
  await uninstall(f.components, { user: true, name: 'attic' })
  await t.throwsAsync(access(path))
  t.deepEqual(f.calls, [['--user', 'stop', 'cidcast-node-attic.service'], ['--user', 'disable', 'cidcast-node-attic.service'], ['--user', 'daemon-reload']])
  const err = await t.throwsAsync(uninstall(f.components, { user: true, name: 'attic' }), { name: 'ServiceNotInstalledError' })
  t.regex(err?.message ?? '', /^cidcast-node-attic\.service is not installed \(no .*\)$/)
})

test('a unit whose node will not stop is left in place', async t => {
  const f = await fake(t, {}, args => args.includes('stop') ? { code: 1, stdout: '', stderr: 'Job for cidcast-node.service canceled.\n' } : { code: 0, stdout: '', stderr: '' })
  const { path } = await install(f.components, { data: await nodeData(t), user: true })
  const err = await t.throwsAsync(uninstall(f.components, { user: true }), { name: 'SystemctlError' })
  t.is(err?.message, 'systemctl --user stop cidcast-node.service failed: Job for cidcast-node.service canceled.')
  await access(path)
})

test('install refuses a folder that is not a set-up node, with one line each', async t => {
  const f = await fake(t)
  const noKey = await nodeData(t)
  await rm(join(noKey, SWARM_KEY_FILE))
  const noConfig = await nodeData(t)
  await rm(join(noConfig, NODE_CONFIG_FILE))
  const cases: Array<[string, RegExp]> = [
    [join(noKey, 'nope'), /nope is not a node's data folder: join the network first \(cidcast-node join TOKEN --data .*nope\)$/],
    [noKey, /has no swarm\.key: join the network first/],
    [noConfig, /has no node\.json: start the node once with it \(cidcast-node --data .*\) so it keeps its settings$/]
  ]
  for (const [data, message] of cases) {
    const err = await t.throwsAsync(install(f.components, { data, user: true }), { name: 'NodeNotSetUpError' }, data)
    t.regex(err?.message ?? '', message)
    t.false(err?.message.includes('\n'))
  }
  t.deepEqual(f.calls, [])
  await t.throwsAsync(access(f.userDir))
})

test('install refuses to replace the unit of another data folder without --force, and replaces it with --force', async t => {
  const f = await fake(t)
  const first = await nodeData(t, 'One')
  const second = await nodeData(t, 'Two')
  const { path } = await install(f.components, { data: first, user: true })
  f.calls.length = 0
  const err = await t.throwsAsync(install(f.components, { data: second, user: true }), { name: 'ServiceUnitTakenError' })
  t.is(err?.message, `${path} runs the node of ${first}: pass --force to replace it, or --name N for a second node`)
  t.is(unitDataFolder(await readFile(path, 'utf8')), first)
  t.deepEqual(f.calls, [])
  await install(f.components, { data: second, user: true, force: true })
  t.is(unitDataFolder(await readFile(path, 'utf8')), second)
  t.true(f.lines.some(l => l.endsWith(`replacing the unit of ${first}`)))

  await writeFile(path, '[Service]\nExecStart=/usr/bin/something\n')
  const foreign = await t.throwsAsync(install(f.components, { data: second, user: true }), { name: 'ServiceUnitTakenError' })
  t.regex(foreign?.message ?? '', /exists and is not a cidcast-node unit: pass --force/)
})

test('a system service needs root: install and uninstall as another user say so in one line and touch nothing', async t => {
  const f = await fake(t, { uid: 1000 })
  const data = await nodeData(t)
  for (const attempt of [install(f.components, { data }), uninstall(f.components, {})]) {
    const err = await t.throwsAsync(attempt, { name: 'ServiceNeedsRootError' })
    t.regex(err?.message ?? '', /needs root: run it with sudo, or add --user for a service of your own$/)
  }
  t.deepEqual(f.calls, [])
  await t.throwsAsync(access(f.systemDir))
})

test('install refuses a data folder the service\'s user could not write', async t => {
  const f = await fake(t, { uid: 0, account: async user => ({ user, uid: UID + 1000, group: user, gid: 1, home: '/nonexistent' }) })
  const data = await nodeData(t)
  const err = await t.throwsAsync(install(f.components, { data }), { name: 'ServiceAccountError' })
  t.is(err?.message, `${data} belongs to user id ${UID}, not to alice who the service runs as: give it to them (chown -R alice DIR) or pass --run-as`)
})

test('the service\'s user is looked up in the system\'s user database; an unknown one is one line', async t => {
  const { account } = serviceComponents()
  t.like(await account('root'), { user: 'root', uid: 0, gid: 0, group: 'root', home: '/root' })
  const err = await t.throwsAsync(account('no-such-user-cidcast'), { name: 'ServiceAccountError' })
  t.is(err?.message, 'there is no user no-such-user-cidcast on this system')
})

test('status prints whether the unit is installed, enabled and active, one line each, from systemctl show', async t => {
  const shown = 'LoadState=loaded\nUnitFileState=enabled\nActiveState=active\nSubState=running\nFragmentPath=/etc/systemd/system/cidcast-node.service\n'
  const f = await fake(t, {}, () => ({ code: 0, stdout: shown, stderr: '' }))
  t.like(await status(f.components, {}), { installed: true, enabled: true, active: true })
  t.deepEqual(f.calls, [['show', '--property=LoadState,UnitFileState,ActiveState,SubState,FragmentPath', 'cidcast-node.service']])
  t.deepEqual(f.lines, ['installed: yes (/etc/systemd/system/cidcast-node.service)', 'enabled: yes (enabled)', 'active: yes (running)'])

  const absent = await fake(t, {}, () => ({ code: 0, stdout: 'LoadState=not-found\nUnitFileState=\nActiveState=inactive\nSubState=dead\nFragmentPath=\n', stderr: '' }))
  t.like(await status(absent.components, { user: true }), { installed: false, enabled: false, active: false })
  t.deepEqual(absent.lines, ['installed: no (not-found)', 'enabled: no (none)', 'active: no (inactive)'])
})

test('where systemd is not running, a verb fails with systemctl\'s reason on one line, and install leaves no unit behind', async t => {
  const f = await fake(t, {}, () => ({ code: 1, stdout: '', stderr: 'System has not been booted with systemd as init system (PID 1). Can\'t operate.\nFailed to connect to bus: Host is down\n' }))
  const err = await t.throwsAsync(status(f.components, {}), { name: 'SystemctlError' })
  t.is(err?.message, 'systemctl show --property=LoadState,UnitFileState,ActiveState,SubState,FragmentPath cidcast-node.service failed: System has not been booted with systemd as init system (PID 1). Can\'t operate.')
  const refused = await t.throwsAsync(install(f.components, { data: await nodeData(t), user: true }), { name: 'SystemctlError' })
  t.regex(refused?.message ?? '', /^systemctl --user daemon-reload failed: System has not been booted with systemd/)
  await t.throwsAsync(access(join(f.userDir, 'cidcast-node.service')), undefined, 'a unit systemd did not take is not left behind')
})

test('the service commands parse their options into install, uninstall and status, and refuse a bad --name before anything runs', async t => {
  const f = await fake(t)
  const data = await nodeData(t)
  const program = (): Command => addServiceCommands(new Command('cidcast-node').exitOverride().configureOutput({ writeErr: () => {} }), { components: f.components })
  await program().parseAsync(['service', 'install', '--user', '--data', data, '--name', 'attic', '--now'], { from: 'user' })
  await access(join(f.userDir, 'cidcast-node-attic.service'))
  await program().parseAsync(['service', 'status', '--user', '--name', 'attic'], { from: 'user' })
  await program().parseAsync(['service', 'uninstall', '--user', '--name', 'attic'], { from: 'user' })
  t.deepEqual(f.calls.map(c => c.slice(0, 2)), [['--user', 'daemon-reload'], ['--user', 'enable'], ['--user', 'start'], ['--user', 'show'], ['--user', 'stop'], ['--user', 'disable'], ['--user', 'daemon-reload']])
  const err = await t.throwsAsync(program().parseAsync(['service', 'install', '--user', '--data', data, '--name', 'a/b'], { from: 'user' }))
  t.regex(err?.message ?? '', /option '--name <name>' argument 'a\/b' is invalid\. "a\/b" is not a service name/)
})
