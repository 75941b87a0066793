import { execFile } from 'node:child_process'
import { access, chown, mkdir, readFile, rm, stat } from 'node:fs/promises'
import { homedir, hostname, userInfo } from 'node:os'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { DEFAULT_NODE_DATA, NODE_CONFIG_FILE, SWARM_KEY_FILE } from '../core/config/index.ts'
import { CidcastError } from '../core/errors.ts'
import { writeFileAtomic } from '../core/fs-atomic.ts'
import { currentProgram, renderUnit, unitDataFolder } from './service-unit.ts'
import type { NodeProgram } from './service-unit.ts'
import type { Command } from 'commander'

/*
 * `cidcast-node service install|uninstall|status` (issue 14, item 4): the node as a systemd service, system-wide
 * (/etc/systemd/system, as root, running as the invoking user) or the user's own (`--user`). Everything that
 * touches the machine goes through `ServiceComponents`, so tests run it where no systemd runs: a recording
 * `systemctl`, a unit folder of their own, any user id.
 */

/** A system unit asked for by someone who is not root. */
export class ServiceNeedsRootError extends CidcastError {
  static override readonly code: string = 'ServiceNeedsRootError'
  override readonly name = 'ServiceNeedsRootError'
}

/** A data folder the node has not been set up in: missing, or without swarm.key or node.json. */
export class NodeNotSetUpError extends CidcastError {
  static override readonly code: string = 'NodeNotSetUpError'
  override readonly name = 'NodeNotSetUpError'
}

/** A unit of that name exists for another data folder (or is not ours), and --force was not given. */
export class ServiceUnitTakenError extends CidcastError {
  static override readonly code: string = 'ServiceUnitTakenError'
  override readonly name = 'ServiceUnitTakenError'
}

/** No unit of that name is installed. */
export class ServiceNotInstalledError extends CidcastError {
  static override readonly code: string = 'ServiceNotInstalledError'
  override readonly name = 'ServiceNotInstalledError'
}

/** The account a service would run as: unknown, or unable to write the data folder. */
export class ServiceAccountError extends CidcastError {
  static override readonly code: string = 'ServiceAccountError'
  override readonly name = 'ServiceAccountError'
}

/** A unit name systemd would not take, or that would not be ours. */
export class ServiceNameError extends CidcastError {
  static override readonly code: string = 'ServiceNameError'
  override readonly name = 'ServiceNameError'
}

/** `systemctl` is missing or failed. */
export class SystemctlError extends CidcastError {
  static override readonly code: string = 'SystemctlError'
  override readonly name = 'SystemctlError'
}

/** What a `systemctl` run printed, and its exit code. */
export interface SystemctlResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `systemctl ARGS` (with `--user` first for the user's manager). */
export type SystemctlRunner = (args: string[]) => Promise<SystemctlResult>

/** A user account, as the system's user database has it. */
export interface Account {
  user: string
  uid: number
  group: string
  gid: number
  home: string
}

export interface ServiceComponents {
  systemctl: SystemctlRunner
  /** Looks a user up by name. */
  account: (user: string) => Promise<Account>
  /** This process's effective user id: a system unit needs 0. */
  uid: number
  /** Where `SUDO_USER`, `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` are read. */
  env: NodeJS.ProcessEnv
  /** What the unit runs. */
  program: NodeProgram
  /** Where system units go. @default /etc/systemd/system */
  systemUnitDir: string
  /** Prints one line for the user. */
  print: (line: string) => void
}

/** The unit name with no `--name`; `--name N` gives `cidcast-node-N`. */
export const SERVICE_NAME = 'cidcast-node'
const SYSTEM_UNIT_DIR = '/etc/systemd/system'
/** systemctl may wait for a unit to stop (the unit's TimeoutStopSec is 30 s). */
const SYSTEMCTL_TIMEOUT_MS = 120_000

/** The real machine's components, with any of them replaced. */
export function serviceComponents (overrides: Partial<ServiceComponents> = {}): ServiceComponents {
  return {
    systemctl: runSystemctl,
    account: lookupAccount,
    uid: process.geteuid?.() ?? 0,
    env: process.env,
    program: overrides.program ?? currentProgram(),
    systemUnitDir: SYSTEM_UNIT_DIR,
    print: line => { process.stdout.write(`${line}\n`) },
    ...overrides
  }
}

/** `systemctl ARGS` as a child process; missing systemctl is a SystemctlError. */
async function runSystemctl (args: string[]): Promise<SystemctlResult> {
  return await new Promise((resolve, reject) => {
    execFile('systemctl', args, { timeout: SYSTEMCTL_TIMEOUT_MS }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new SystemctlError('systemctl not found: this system does not use systemd'))
        return
      }
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** `getent ARGS`'s output, or undefined when it finds nothing. */
async function getent (args: string[]): Promise<string | undefined> {
  return await new Promise(resolve => {
    execFile('getent', args, (err, stdout) => { resolve(err == null ? stdout.trim() : undefined) })
  })
}

/** A user from the system's user database (NSS, so LDAP users too), with their primary group's name. */
async function lookupAccount (user: string): Promise<Account> {
  const entry = await getent(['passwd', user])
  const [name, , uid, gid, , home] = entry?.split('\n')[0].split(':') ?? []
  if (name == null || home == null) throw new ServiceAccountError(`there is no user ${user} on this system`)
  const group = (await getent(['group', gid]))?.split(':')[0] ?? gid
  return { user: name, uid: Number(uid), group, gid: Number(gid), home }
}

/** Which unit and where: the scope and name every verb shares. */
export interface ServiceTarget {
  /** The user's own service manager instead of the system's. */
  user?: boolean
  /** `cidcast-node-NAME` instead of `cidcast-node`, for more than one node on a machine. */
  name?: string
}

export interface InstallOptions extends ServiceTarget {
  /** The node's data folder (made by `join` or the setup page, started once). */
  data: string
  /** Start it now (restart it when the unit was there already, so the new unit applies). */
  now?: boolean
  /** Replace a unit of that name that runs another data folder. */
  force?: boolean
  /** The user a system unit runs as. @default the user who ran sudo, else this user */
  runAs?: string
}

/** The unit's name: `cidcast-node`, or `cidcast-node-N`. */
export function serviceName (name?: string): string {
  if (name == null) return SERVICE_NAME
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new ServiceNameError(`${JSON.stringify(name)} is not a service name: 1-64 of A-Z, a-z, 0-9, _, . and -`)
  return `${SERVICE_NAME}-${name}`
}

/** The folder units of the scope go in: /etc/systemd/system, or `${XDG_CONFIG_HOME:-~/.config}/systemd/user`. */
function unitDir (components: ServiceComponents, user: boolean): string {
  return user ? join(xdgFolder(components.env.XDG_CONFIG_HOME, '.config'), 'systemd', 'user') : components.systemUnitDir
}

/** An XDG base folder: the variable when it is absolute (the spec ignores a relative one), else `~/<fallback>`. */
function xdgFolder (value: string | undefined, fallback: string): string {
  return value != null && isAbsolute(value) ? value : join(homedir(), fallback)
}

function needsRoot (components: ServiceComponents, target: ServiceTarget, doing: string): void {
  if (target.user !== true && components.uid !== 0) {
    throw new ServiceNeedsRootError(`${doing} a system service needs root: run it with sudo, or add --user for a service of your own`)
  }
}

/** `systemctl [--user] ARGS`, its failure one SystemctlError line. */
async function systemctl (components: ServiceComponents, target: ServiceTarget, ...args: string[]): Promise<string> {
  const full = target.user === true ? ['--user', ...args] : args
  const result = await components.systemctl(full)
  if (result.code !== 0) {
    const why = result.stderr.split('\n').map(l => l.trim()).find(l => l !== '') ?? `exit code ${result.code}`
    throw new SystemctlError(`systemctl ${full.join(' ')} failed: ${why}`)
  }
  return result.stdout
}

/** The node's name from a set-up data folder, which must hold swarm.key and node.json. */
async function nodeFolder (data: string): Promise<{ name: string, uid: number }> {
  const folder = await stat(data).catch(() => undefined)
  if (folder?.isDirectory() !== true) throw new NodeNotSetUpError(`${data} is not a node's data folder: join the network first (cidcast-node join TOKEN --data ${data})`)
  if (!await exists(join(data, SWARM_KEY_FILE))) throw new NodeNotSetUpError(`${data} has no ${SWARM_KEY_FILE}: join the network first (cidcast-node join TOKEN --data ${data})`)
  const config = await readFile(join(data, NODE_CONFIG_FILE), 'utf8').catch(() => undefined)
  if (config == null) throw new NodeNotSetUpError(`${data} has no ${NODE_CONFIG_FILE}: start the node once with it (cidcast-node --data ${data}) so it keeps its settings`)
  let name: unknown
  try {
    name = (JSON.parse(config) as { name?: unknown }).name
  } catch {}
  return { name: typeof name === 'string' && name !== '' ? name : hostname(), uid: folder.uid }
}

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}

/** Makes `folder` (and any parent it has to) owned by `account`, as the executable would as that user. */
async function makeOwnedFolder (folder: string, account: Account, components: ServiceComponents): Promise<void> {
  const first = await mkdir(folder, { recursive: true, mode: 0o700 })
  if (first == null || components.uid !== 0 || account.uid === 0) return
  const rel = relative(first, folder)
  let path = first
  for (const part of ['', ...rel === '' ? [] : rel.split('/')]) {
    path = join(path, part)
    await chown(path, account.uid, account.gid)
  }
}

/** Writes the node's unit, then `daemon-reload`, `enable` and with `now` `start`; refuses what would not run. */
export async function install (components: ServiceComponents, options: InstallOptions): Promise<{ unit: string, path: string, text: string }> {
  const user = options.user === true
  const unit = `${serviceName(options.name)}.service`
  needsRoot(components, options, 'installing')
  const data = resolve(options.data)
  const folder = await nodeFolder(data)
  // the user the node runs as: the system unit's User=, or whoever runs this for a user unit
  const account = user ? undefined : await components.account(options.runAs ?? invokingUser(components))
  const runsAs = account?.uid ?? components.uid
  if (runsAs !== 0 && folder.uid !== runsAs) {
    const who = account?.user ?? userInfo().username
    throw new ServiceAccountError(`${data} belongs to user id ${folder.uid}, not to ${who} who the service runs as: give it to them (chown -R ${who} DIR)${user ? '' : ' or pass --run-as'}`)
  }
  const cacheDir = join(account == null ? xdgFolder(components.env.XDG_CACHE_HOME, '.cache') : join(account.home, '.cache'), 'cidcast-node')
  const text = renderUnit({
    nodeName: folder.name,
    program: components.program,
    data,
    scope: user ? 'user' : 'system',
    runAs: account == null ? undefined : { user: account.user, group: account.group },
    cacheDir
  })

  const dir = unitDir(components, user)
  const path = join(dir, unit)
  const existing = await readFile(path, 'utf8').catch(() => undefined)
  const replaced = existing == null ? undefined : unitDataFolder(existing)
  if (existing != null && replaced !== data && options.force !== true) {
    throw new ServiceUnitTakenError(replaced == null
      ? `${path} exists and is not a cidcast-node unit: pass --force to replace it, or --name N for another unit`
      : `${path} runs the node of ${replaced}: pass --force to replace it, or --name N for a second node`)
  }
  await mkdir(dir, { recursive: true })
  await writeFileAtomic(path, text, { mode: 0o644 })
  // the executable extracts its native addon there: made now, so the sandbox can open it for writing
  if (components.program.sea && account != null) await makeOwnedFolder(cacheDir, account, components).catch(() => {})
  const replacedNote = replaced != null && replaced !== data ? `, replacing the unit of ${replaced}` : ''
  components.print(`wrote ${path}: the node of ${data}${account == null ? '' : `, run as ${account.user}`}${replacedNote}`)

  try {
    await systemctl(components, options, 'daemon-reload')
    await systemctl(components, options, 'enable', unit)
  } catch (err) {
    // systemd did not take it (not running here, say): a new unit goes again, so a failed install leaves nothing
    if (existing == null) await rm(path, { force: true })
    throw err
  }
  components.print(`enabled ${unit}: it starts ${user ? 'with your session' : 'at boot'} and restarts after a failure`)
  if (user && !await exists(join('/var/lib/systemd/linger', userInfo().username))) {
    components.print(`to keep it running after you log out and start it at boot: loginctl enable-linger ${userInfo().username}`)
  }
  if (options.now === true) {
    await systemctl(components, options, existing == null ? 'start' : 'restart', unit)
    components.print(`started ${unit}`)
  } else {
    components.print(`start it now: systemctl${user ? ' --user' : ''} start ${unit}`)
  }
  components.print(`logs: journalctl${user ? ' --user' : ''} -u ${unit} -f`)
  return { unit, path, text }
}

/** The user a system unit runs as unless told: the one behind sudo, else this process's. */
function invokingUser (components: ServiceComponents): string {
  const sudo = components.env.SUDO_USER
  return components.uid === 0 && sudo != null && sudo !== '' ? sudo : userInfo().username
}

/** Stops, disables and removes the node's unit, then `daemon-reload`. */
export async function uninstall (components: ServiceComponents, target: ServiceTarget): Promise<void> {
  const unit = `${serviceName(target.name)}.service`
  needsRoot(components, target, 'removing')
  const path = join(unitDir(components, target.user === true), unit)
  if (!await exists(path)) throw new ServiceNotInstalledError(`${unit} is not installed (no ${path})`)
  // a running node whose unit is gone would be out of systemd's reach: stop it first, and keep the file if that fails
  await systemctl(components, target, 'stop', unit)
  await systemctl(components, target, 'disable', unit)
  await rm(path, { force: true })
  await systemctl(components, target, 'daemon-reload')
  components.print(`stopped, disabled and removed ${unit} (${path}); the data folder is untouched`)
}

/** What `status` found. */
export interface ServiceStatus {
  installed: boolean
  enabled: boolean
  active: boolean
  /** systemd's words: the unit file, its `UnitFileState`, and `SubState` when active, else `ActiveState`. */
  path: string
  unitFileState: string
  activeState: string
}

/** Whether the node's unit is installed, enabled and active (`systemctl show`), one line each. */
export async function status (components: ServiceComponents, target: ServiceTarget): Promise<ServiceStatus> {
  const unit = `${serviceName(target.name)}.service`
  const out = await systemctl(components, target, 'show', '--property=LoadState,UnitFileState,ActiveState,SubState,FragmentPath', unit)
  const p = new Map(out.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const found: ServiceStatus = {
    installed: p.get('LoadState') === 'loaded',
    enabled: ['enabled', 'enabled-runtime', 'linked', 'linked-runtime'].includes(p.get('UnitFileState') ?? ''),
    active: p.get('ActiveState') === 'active',
    path: p.get('FragmentPath') ?? '',
    unitFileState: p.get('UnitFileState') || 'none',
    activeState: (p.get('ActiveState') === 'active' ? p.get('SubState') : p.get('ActiveState')) ?? 'unknown'
  }
  components.print(`installed: ${found.installed ? `yes (${found.path})` : `no (${p.get('LoadState') ?? 'unknown'})`}`)
  components.print(`enabled: ${found.enabled ? 'yes' : 'no'} (${found.unitFileState})`)
  components.print(`active: ${found.active ? 'yes' : 'no'} (${found.activeState})`)
  return found
}

/** How `addServiceCommands` builds its verbs. */
export interface ServiceCommandsInit {
  /** `--data`'s default. @default $CIDCAST_NODE_DATA, else ./.cidcast-node */
  defaultData?: string
  /** Replaced parts (tests). */
  components?: Partial<ServiceComponents>
}

/** Adds `service install|uninstall|status` to a program; errors are thrown for the program's one-line handler. */
export function addServiceCommands (program: Command, init: ServiceCommandsInit = {}): Command {
  const components = (): ServiceComponents => serviceComponents(init.components)
  const label = (value: string): string => {
    try {
      serviceName(value)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
    return value
  }
  const service = program.command('service')
    .description('run this node as a systemd service: restarted after a failure, logs in the journal')
  service.command('install')
    .description('write the node\'s systemd unit, enable it (and start it with --now); a system unit needs root and runs as the user behind sudo')
    .option('--data <dir>', 'the node\'s data folder (env CIDCAST_NODE_DATA)', init.defaultData ?? process.env.CIDCAST_NODE_DATA ?? DEFAULT_NODE_DATA)
    .option('--user', 'a service of your own user (~/.config/systemd/user), no root needed')
    .option('--name <name>', 'unit cidcast-node-NAME instead of cidcast-node (more than one node on a machine)', label)
    .option('--now', 'start it now too')
    .option('--force', 'replace a unit of that name that runs another data folder')
    .option('--run-as <user>', 'the user a system service runs as (default: the user behind sudo)')
    .action(async (opts: { data: string, user?: boolean, name?: string, now?: boolean, force?: boolean, runAs?: string }) => {
      await install(components(), opts)
    })
  // uninstall and status name a unit and nothing else
  const verbs: Array<[string, string, (c: ServiceComponents, target: ServiceTarget) => Promise<unknown>]> = [
    ['uninstall', 'stop, disable and remove the node\'s systemd unit (the data folder stays)', uninstall],
    ['status', 'whether the node\'s systemd unit is installed, enabled and running', status]
  ]
  for (const [verb, description, run] of verbs) {
    service.command(verb)
      .description(description)
      .option('--user', 'the service of your own user')
      .option('--name <name>', 'unit cidcast-node-NAME', label)
      .action(async (opts: ServiceTarget) => {
        await run(components(), opts)
      })
  }
  return program
}
