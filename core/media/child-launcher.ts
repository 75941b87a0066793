import { execFile } from 'node:child_process'
import { findOnPath } from './ffmpeg-binary.ts'

/*
 * ffmpeg and ffprobe must not outlive the server. Node has no prctl(), and ffmpeg does not notice its parent's
 * death by itself: it ignores SIGPIPE and takes EOF on stdin as no key pressed (checked here: with stdin a pipe the
 * server held, and with -stats written to a stderr pipe, a 60 s encode ran on to its end after `kill -9` of its
 * parent). On Linux, util-linux's `setpriv --pdeathsig KILL -- ffmpeg ...` sets the kernel's parent-death signal
 * (PR_SET_PDEATHSIG) and then execs ffmpeg in the same process: nothing stays in between (the pid the server holds
 * and signals is ffmpeg's own), and the kernel kills it however the server ends (SIGKILL, the OOM killer, a crash),
 * with no pid files that could go stale or name a reused pid. Reaping at the next start would leave the orphans
 * running until then.
 */

/** How ffmpeg and ffprobe are started. */
export interface ChildLauncher {
  /** The program and argv that run `file` with `args`, tied to this process's life where the platform allows. */
  command: (file: string, args: readonly string[]) => { file: string, args: string[] }
  /** True when children die with this process. */
  readonly tied: boolean
}

/** Starts programs as they are: they outlive this process if it is killed. */
export const UNTIED_LAUNCHER: ChildLauncher = Object.freeze({
  command: (file: string, args: readonly string[]) => ({ file, args: [...args] }),
  tied: false
})

const CHECK_TIMEOUT_MS = 10_000

/** The launcher for this machine: `setpriv --pdeathsig KILL` on Linux when util-linux has it (>= 2.33), else untied. */
export async function findChildLauncher (env: NodeJS.ProcessEnv = process.env): Promise<ChildLauncher> {
  if (process.platform !== 'linux') return UNTIED_LAUNCHER
  const setpriv = await findOnPath('setpriv', env.PATH ?? '')
  if (setpriv == null) return UNTIED_LAUNCHER
  // an older setpriv (or a look-alike) refuses the option: try it once on a program known to be here
  const works = await new Promise<boolean>(resolve => {
    execFile(setpriv, ['--pdeathsig', 'KILL', '--', process.execPath, '--version'], { timeout: CHECK_TIMEOUT_MS }, err => { resolve(err == null) })
  })
  if (!works) return UNTIED_LAUNCHER
  return Object.freeze({
    command: (file: string, args: readonly string[]) => ({ file: setpriv, args: ['--pdeathsig', 'KILL', '--', file, ...args] }),
    tied: true
  })
}
