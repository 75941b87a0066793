import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

/**
 * Servers measured by the bench run in their own Node processes, so the load generator and the timing loop never
 * share an event loop with what they measure. Each child prints `READY <json>` (where it listens) on stdout once it
 * is ready; anything else it prints there (the server logs JSON lines to stdout) is passed on to stderr.
 */

/** Prints the line `startChild` waits for; call it in the child once it is ready. */
export function announceReady (info: unknown): void {
  process.stdout.write(`${READY}${JSON.stringify(info)}\n`)
}

const READY = 'READY '

export interface BenchChild<T> {
  child: ChildProcess
  /** The JSON line the child printed when it was ready. */
  ready: T
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop: (graceMs?: number) => Promise<void>
}

/** Extra `node` flags for bench children, e.g. `BENCH_CHILD_NODE_OPTIONS=--cpu-prof` to profile them. */
export function childFlags (): string[] {
  return (process.env.BENCH_CHILD_NODE_OPTIONS ?? '').split(/\s+/).filter(f => f !== '')
}

/** How `startChild` runs a child: variables added to this process's environment, and who reads its other lines. */
export interface ChildOptions {
  env?: Record<string, string>
  /** Gets each line the child prints on stdout besides its ready line (its log); without it they go to stderr. */
  onLine?: (line: string) => void
}

/** Starts `node --import=tsx <script> ...args` and resolves with what it announced with `announceReady`. */
export async function startChild<T> (script: string, args: string[], timeoutMs = 60_000, options: ChildOptions = {}): Promise<BenchChild<T>> {
  const child = spawn(process.execPath, [...childFlags(), '--import=tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...options.env } })
  const onLine = options.onLine ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  // 'error' (a failed spawn) ends it too; once() would reject and nobody would see it
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }); child.once('error', () => { resolve() }) })
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
    try { await exited } finally { clearTimeout(timer) }
  }
  // the listener stays after the ready line: it keeps draining stdout (a full pipe would block the child)
  const lines = createInterface({ input: child.stdout! })
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${script} was not ready after ${timeoutMs} ms`)) }, timeoutMs)
      lines.on('line', l => {
        if (!l.startsWith(READY)) { onLine(l); return }
        clearTimeout(timer)
        resolve(l.slice(READY.length))
      })
      void exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${script} exited before it was ready (${child.exitCode ?? child.signalCode})`))
      })
    })
    return { child, ready: JSON.parse(line) as T, stop }
  } catch (err) {
    await stop(0)
    throw err
  }
}
