import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'

/*
 * Start and memory of a daemon in its own process, as the CDN node figures measure them (bench/node.ts for the
 * npm-installed node, bench/executable.ts for the single executable): the same clock and the same reading for both.
 */

const START_TIMEOUT_MS = 60_000

/** Resident set size of a process, in MB (from /proc). */
export async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1])
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for process ${pid}`)
  return kb / 1024
}

/** Waits `ms` (the bench lets a process sit idle before its memory is read). */
export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** What to spawn: a program (the running Node unless named), its arguments, and variables added to the environment. */
export interface StartCommand {
  command?: string
  args: string[]
  env?: Record<string, string>
}

/**
 * Spawns `start` and polls `url` until it answers 200 (with `X-Cidcast-Source: local` when `local`); the time from
 * spawn to that answer, and the process (still running: the caller stops it).
 */
export async function timeToFirstAnswer (start: StartCommand, url: string, local: boolean): Promise<{ ms: number, stop: () => Promise<void>, pid: number }> {
  const started = performance.now()
  const child = spawn(start.command ?? process.execPath, start.args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...start.env } })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }); child.once('error', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 10_000)
    try { await exited } finally { clearTimeout(timer) }
  }
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${start.command ?? 'node'} ${start.args.join(' ')} exited before answering`)
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`${url} did not answer within ${START_TIMEOUT_MS} ms`)
      const res = await fetch(url).catch(() => undefined)
      if (res != null) {
        await res.arrayBuffer()
        if (res.status === 200 && (!local || res.headers.get('x-cidcast-source') === 'local')) return { ms: performance.now() - started, stop, pid: child.pid! }
      }
      await sleep(5)
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Polls a node's `/healthz` until it says it is registered with the main server. */
export async function untilRegistered (nodeUrl: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  const registered = async (): Promise<boolean> => ((await (await fetch(`${nodeUrl}/healthz`)).json()) as { registration?: { state?: string } }).registration?.state === 'registered'
  while (!await registered()) {
    if (Date.now() > deadline) throw new Error(`the node at ${nodeUrl} did not register`)
    await sleep(50)
  }
}
