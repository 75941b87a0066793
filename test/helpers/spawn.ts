import { execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { rememberedToken } from './auth.ts'
import type { ChildProcess } from 'node:child_process'

/** The installed `cidcast` entry and the project root, for tests that run the CLI as a user would. */
export const CLI = fileURLToPath(new URL('../../bin/cidcast.js', import.meta.url))
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A child process with what it has printed so far and its exit code once it ends. */
export interface Daemon {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

/** Runs `node ARGS` from the project root with the current Node, collecting its output. */
export function runNode (args: string[], env: Record<string, string> = {}): Daemon {
  return daemonOf(spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, CIDCAST_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  }))
}

/** A spawned child with piped stdout and stderr as a `Daemon`: what it printed so far, and its exit code once it ends. */
export function daemonOf (child: ChildProcess): Daemon {
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => { resolve(code) })
    // a child that could not be started (no such file, not executable) says why where its errors would be
    child.once('error', error => { err += `${error.message}\n`; resolve(null) })
  })
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** What a finished CLI run printed, and its exit code. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** How `cidcastWith` runs the CLI: options for Node before the entry, variables added to the environment. */
export interface CliOptions {
  nodeArgs?: string[]
  env?: Record<string, string>
}

/**
 * Runs `cidcast ARGS` to its end from the sources (not a bundle that may predate them), with no `CIDCAST_SERVER`
 * from the environment: each test names the server it means; the admin token of that server (test/helpers/auth.ts)
 * goes with it as `CIDCAST_TOKEN` unless `env` sets one (`''`: none).
 */
export async function cidcast (...args: string[]): Promise<CliRun> {
  return await cidcastWith({}, ...args)
}

/** `cidcast` with Node options (`--import=...`) and environment variables (`CIDCAST_TOKEN`, `XDG_CONFIG_HOME`...) of the caller's. */
export async function cidcastWith (options: CliOptions, ...args: string[]): Promise<CliRun> {
  const token = args.includes('--server') ? rememberedToken(args[args.indexOf('--server') + 1]) : undefined
  const env = { ...process.env, CIDCAST_SERVER: '', CIDCAST_FROM_SOURCE: '1', CIDCAST_TOKEN: token ?? '', ...options.env }
  return await new Promise(resolve => {
    execFile(process.execPath, [...options.nodeArgs ?? [], CLI, ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
    })
  })
}
