import { readdir, readFile } from 'node:fs/promises'

/*
 * Processes as Linux shows them in /proc: tests that kill a daemon's child (ffmpeg) or check that none outlives its
 * parent find them here, by parent and command name, rather than by a broad name match that would reach other
 * engineers' processes on a shared machine.
 */

/** The processes named `comm` (e.g. `ffmpeg`) whose parent is `parent`. */
export async function childrenNamed (parent: number, comm: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // "pid (comm) state ppid ...": comm may hold spaces, so read from the last parenthesis
    const match = /^\d+ \((.*)\) (\S) (\d+) /.exec(stat)
    if (match?.[1] === comm && Number(match[3]) === parent) found.push(Number(entry))
  }
  return found
}

/** True while `pid` runs (a zombie has ended: only its exit status is left to collect). */
export async function running (pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return /^\d+ \(.*\) [^Z] /.test(stat)
}
