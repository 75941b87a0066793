import { readFile } from 'node:fs/promises'

/**
 * CPU seconds from /proc, to put next to wall times: on a machine shared with other work, the CPU a
 * figure used moves much less than its wall time does.
 */

// USER_HZ: 100 on every Linux this runs on (the kernel ABI fixes it for /proc, whatever HZ is)
const TICKS_PER_SECOND = 100

async function statFields (pid: number | 'self'): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8')
  // the command name is in parentheses and may hold spaces: fields start after the last ')'
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/** CPU seconds of `pid` itself (utime + stime) and of its children it has already waited for (cutime + cstime). */
export async function processTreeCpuSeconds (pid: number): Promise<{ own: number, children: number }> {
  const f = await statFields(pid)
  return { own: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND, children: (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND }
}

/** CPU seconds of this process's children that have ended and been waited for (cutime + cstime). */
export async function endedChildrenCpuSeconds (): Promise<number> {
  const f = await statFields('self')
  return (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND
}

/** CPU seconds `pid` itself has used (utime + stime); undefined when it is gone or /proc cannot be read. */
export async function processCpuSeconds (pid: number): Promise<number | undefined> {
  try {
    const f = await statFields(pid)
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}
