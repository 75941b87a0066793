import { readdir, readFile } from 'node:fs/promises'
import { cpus } from 'node:os'

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

/** CPU seconds the whole machine has used since boot: every busy column of /proc/stat's `cpu` line (all but idle and iowait). */
export async function machineCpuSeconds (): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number)
  return (user + nice + system + irq + softirq + (steal ?? 0)) / TICKS_PER_SECOND
}

/**
 * CPU seconds of this process and all its descendants alive now, each with the ended children it has waited for: the
 * bench's own share of the machine, to tell apart from other work running beside it.
 */
export async function ownTreeCpuSeconds (): Promise<number> {
  const procs = new Map<number, { parent: number, seconds: number }>()
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const f = await statFields(Number(name))
      procs.set(Number(name), { parent: Number(f[1]), seconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND })
    } catch {
      // ended while we looked
    }
  }
  const ours = new Set([process.pid])
  // parents have lower ids only usually, so repeat until no new descendant is found
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, { parent }] of procs) {
      if (!ours.has(pid) && ours.has(parent)) { ours.add(pid); grew = true }
    }
  }
  let seconds = 0
  for (const pid of ours) seconds += procs.get(pid)?.seconds ?? 0
  return seconds
}

/**
 * Other work's CPU (the machine's less this bench's process tree) above this many cores while a figure ran marks it
 * BUSY: it ran back to back with its baseline, so its ratio suffers less, but its value does not count.
 */
export const BUSY_CORES = cpus().length / 4

/** Measures how many cores other work on the machine kept busy while `work` ran (the machine's CPU time less this process tree's). */
export async function othersBusyCores<T> (work: () => Promise<T>): Promise<{ result: T, cores: number }> {
  const [machine, own, started] = [await machineCpuSeconds(), await ownTreeCpuSeconds(), performance.now()]
  const result = await work()
  const seconds = (performance.now() - started) / 1000
  const others = (await machineCpuSeconds() - machine) - (await ownTreeCpuSeconds() - own)
  return { result, cores: seconds > 0 ? Math.max(0, others / seconds) : 0 }
}
