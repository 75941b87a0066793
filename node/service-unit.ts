import { isSea } from 'node:sea'
import { isAbsolute, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CidcastError } from '../core/errors.ts'

/*
 * The systemd unit of a CDN node (issue 14, item 4): its text, and what its ExecStart runs. The unit passes the
 * data folder and nothing else: everything the node needs is in that folder's node.json and swarm.key. Quoting
 * follows systemd.service(5) "Command lines" and systemd.syntax(7), checked against systemd 252's own parser
 * (`systemd --test` prints the argv it read): an executable path may not hold quotes or backslashes at all ("contains
 * special characters") and is not subject to `$` expansion; every other word is double-quoted with `\"` and `\\`,
 * `%` written `%%` (specifiers) and `$` written `$$` (environment variables). Control characters cannot be written
 * in every setting that names a path (ReadWritePaths= has no C escapes), so a path holding one is refused.
 */

/** A path systemd cannot take in a unit: an executable with quotes or backslashes, or any path with control characters. */
export class UnitPathError extends CidcastError {
  static override readonly code: string = 'UnitPathError'
  override readonly name = 'UnitPathError'
}

/** What the service runs: the single executable, or Node with the CLI entry of an npm install. */
export interface NodeProgram {
  /** True when this is the single executable (`node:sea`): it is the node, with no verb. */
  sea: boolean
  /** The executable: the single executable itself, or the Node binary. */
  execPath: string
  /** The npm install's CLI entry (`bin/cidcast.js`), run with the `node` verb; none for the single executable. */
  cliEntry?: string
}

/** The program running now: `process.execPath` alone inside the single executable, else Node + bin/cidcast.js. */
export function currentProgram (): NodeProgram {
  if (isSea()) return { sea: true, execPath: process.execPath }
  // only outside the executable: its bundle is CommonJS, where import.meta has no URL
  return { sea: false, execPath: process.execPath, cliEntry: fileURLToPath(new URL('../bin/cidcast.js', import.meta.url)) }
}

/** The words of ExecStart: the executable, then `node` after the CLI entry of an npm install, then `--data DIR`. */
export function execStartWords (program: NodeProgram, data: string): string[] {
  if (program.sea || program.cliEntry == null) return [program.execPath, '--data', data]
  return [program.execPath, program.cliEntry, 'node', '--data', data]
}

/** Folders systemd's ProtectHome= hides or makes read-only. */
const HOME_FOLDERS = ['/home', '/root', '/run/user']

export interface UnitOptions {
  /** The node's name (node.json), shown in the unit's Description. */
  nodeName: string
  program: NodeProgram
  /** The node's data folder, absolute. */
  data: string
  /** `system`: /etc/systemd/system, runs as `runAs`, sandboxed; `user`: the user's own service manager. */
  scope: 'system' | 'user'
  /** The account a system unit runs as. */
  runAs?: { user: string, group: string }
  /** Where the single executable extracts its native addon (`~/.cache/cidcast-node` of `runAs`): writable in a system unit. */
  cacheDir?: string
  /** Seconds before a restart after a failure. @default 5 */
  restartSeconds?: number
  /** Seconds the node has to stop on SIGTERM before SIGKILL. @default 30 */
  stopSeconds?: number
}

/** The unit file's text for a node. */
export function renderUnit (options: UnitOptions): string {
  const words = execStartWords(options.program, options.data)
  const [exec, ...args] = words
  for (const path of [exec, options.data, ...options.cacheDir == null ? [] : [options.cacheDir]]) {
    if (!isAbsolute(path)) throw new UnitPathError(`${path} is not an absolute path`)
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f]/.test(path)) throw new UnitPathError(`${JSON.stringify(path)} holds control characters, which a systemd unit cannot name: use another folder`)
  }
  if (/["'\\]/.test(exec)) throw new UnitPathError(`${exec}: systemd does not run a program whose path holds quotes or backslashes: move it to another folder`)
  const system = options.scope === 'system'
  const lines = [
    '# Written by `cidcast-node service install`: install again (with --force) rather than edit it.',
    '[Unit]',
    `Description=${description(options.nodeName)}`,
    // a user's service manager knows no system targets: there the ordering would name a unit it cannot see
    ...system ? ['After=network-online.target', 'Wants=network-online.target'] : [],
    '',
    '[Service]',
    // exec: `systemctl start` fails when the program cannot be run, not only later
    'Type=exec',
    `ExecStart=${[exec.replaceAll('%', '%%'), ...args.map(execArgument)].map(quoted).join(' ')}`,
    'Restart=on-failure',
    `RestartSec=${options.restartSeconds ?? 5}`,
    // the node finishes its writes and closes its datastore on SIGTERM, then exits 0
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${options.stopSeconds ?? 30}`,
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=cidcast-node',
    'NoNewPrivileges=yes',
    // a user manager sandboxes only inside a user namespace, which many kernels refuse to unprivileged users: the
    // node would not start at all there, so a user unit gets no more than NoNewPrivileges
    ...system ? systemSandbox(options, words) : [],
    '',
    '[Install]',
    `WantedBy=${system ? 'multi-user.target' : 'default.target'}`,
    ''
  ]
  return lines.join('\n')
}

/** User=, Group= and the file system a system unit sees: read-only but for the data and cache folders. */
function systemSandbox (options: UnitOptions, words: string[]): string[] {
  if (options.runAs == null) throw new TypeError('a system unit needs runAs')
  const writable = [options.data, ...options.cacheDir == null ? [] : [options.cacheDir]]
  // ProtectHome=yes hides /home and /root: a node whose data, cache or program lives there would not start. There it
  // is read-only, the data and cache folders writable again by ReadWritePaths=
  const inHome = [...writable, ...words.slice(0, options.program.sea ? 1 : 2)].some(path => HOME_FOLDERS.some(home => isInside(path, home)))
  return [
    `User=${options.runAs.user.replaceAll('%', '%%')}`,
    `Group=${options.runAs.group.replaceAll('%', '%%')}`,
    'ProtectSystem=strict',
    `ProtectHome=${inHome ? 'read-only' : 'yes'}`,
    // `-`: the cache folder may not exist yet (the executable makes it, or falls back to a private /tmp)
    `ReadWritePaths=${[quoted(unitPath(options.data)), ...options.cacheDir == null ? [] : [quoted(`-${unitPath(options.cacheDir)}`)]].join(' ')}`,
    'PrivateTmp=yes'
  ]
}

/** True when `path` is `folder` or inside it. */
function isInside (path: string, folder: string): boolean {
  const rel = relative(folder, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/** One line for Description=: no control characters, `%` escaped, no backslash at the end (it would continue the line). */
function description (name: string): string {
  // eslint-disable-next-line no-control-regex -- a name is one line
  const flat = name.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().replace(/[\s\\]+$/, '')
  return `cidcast CDN node ${flat === '' ? '(unnamed)' : flat}`.replaceAll('%', '%%')
}

/** A word of ExecStart after the executable: specifiers and environment variables escaped. */
function execArgument (word: string): string {
  return word.replaceAll('%', '%%').replaceAll('$', () => '$$')
}

/** A path in a setting without environment variables (ReadWritePaths=): specifiers escaped. */
function unitPath (path: string): string {
  return path.replaceAll('%', '%%')
}

/** A double-quoted word: systemd unquotes `\"` and `\\`. */
function quoted (word: string): string {
  return `"${word.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/**
 * The words of a unit's ExecStart= value as systemd reads those this module writes: double quotes, backslash
 * escapes, `%%` and (after the executable) `$$`. Used to tell which data folder an installed unit serves.
 */
export function parseExecStart (value: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (c === '\\' && i + 1 < value.length) {
      word = (word ?? '') + value[++i]
    } else if (c === '"') {
      quote = !quote
      word ??= ''
    } else if (!quote && /\s/.test(c)) {
      if (word != null) words.push(word)
      word = undefined
    } else {
      word = (word ?? '') + c
    }
  }
  if (word != null) words.push(word)
  return words.map((w, i) => i === 0 ? w.replaceAll('%%', '%') : w.replaceAll('%%', '%').replaceAll('$$', '$'))
}

/** The data folder an installed unit's text runs the node of (`--data DIR` of its ExecStart=), if any. */
export function unitDataFolder (text: string): string | undefined {
  const line = text.split('\n').find(l => l.startsWith('ExecStart='))
  if (line == null) return undefined
  const words = parseExecStart(line.slice('ExecStart='.length))
  const at = words.indexOf('--data')
  return at < 0 ? undefined : words[at + 1]
}
