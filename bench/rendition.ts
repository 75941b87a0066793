import { bareWholeRendition } from './bare-ffmpeg.ts'
import { processTreeCpuSeconds } from './cpu-time.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { withToken } from '../test/helpers/stream-url.ts'
import { PROFILE, startBenchServer } from './server.ts'
import { median, ratioOf } from './table.ts'
import type { BarePlan } from './bare-ffmpeg.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * Figure 5: a whole rendition made by the server for a player that asks for every segment in order,
 * until the API shows it complete with a root CID, against bare ffmpeg making the same rendition.
 */

const WHOLE_GOAL_RATIO = 1.05
const COMPLETE_TIMEOUT_MS = 180_000
const COMPLETE_POLL_MS = 20

/** Asks for every segment in order on one connection, then waits until the rendition is complete; milliseconds. */
export async function wholeOnServer (server: BenchServer, segments: number): Promise<{ ms: number, segmentsDoneMs: number, root: string, cpuSeconds: number, nodeCpuSeconds: number }> {
  const client = newClient()
  try {
    await fetchOk(withToken(`${server.rendition}/index.m3u8`, server.streamToken), client)
    const cpuBefore = await processTreeCpuSeconds(server.pid)
    const started = performance.now()
    for (let n = 0; n < segments; n++) await fetchOk(withToken(`${server.rendition}/${n}.m4s`, server.streamToken), client)
    const segmentsDoneMs = performance.now() - started
    const deadline = started + COMPLETE_TIMEOUT_MS
    for (;;) {
      const { state, root } = await server.renditionState()
      if (state === 'complete' && root != null) {
        const ms = performance.now() - started
        // the session has ended by now, so its ffmpeg's CPU is in the server's cutime
        const cpuAfter = await processTreeCpuSeconds(server.pid)
        const nodeCpuSeconds = cpuAfter.own - cpuBefore.own
        return { ms, segmentsDoneMs, root, cpuSeconds: nodeCpuSeconds + cpuAfter.children - cpuBefore.children, nodeCpuSeconds }
      }
      if (performance.now() > deadline) throw new Error(`the rendition was not complete after ${COMPLETE_TIMEOUT_MS} ms (state ${state})`)
      await new Promise(resolve => setTimeout(resolve, COMPLETE_POLL_MS))
    }
  } finally {
    client.destroy()
  }
}

/**
 * Figure 5, `repeats` times (bare ffmpeg, then the server on a fresh data folder, in turn), medians reported.
 * The last server is handed back running (its rendition complete) for the figures that need a whole
 * rendition; the caller stops it.
 */
export async function measureWholeRendition (source: string, bare: BarePlan, repeats = 2): Promise<{ row: Row, server: BenchServer }> {
  const runs: Array<Awaited<ReturnType<typeof wholeOnServer>> & { bareMs: number, bareCpuSeconds: number, sessions: number }> = []
  let server: BenchServer | undefined
  try {
    for (let run = 0; run < repeats; run++) {
      await server?.stop()
      server = undefined
      const { ms: bareMs, cpuSeconds: bareCpuSeconds } = await bareWholeRendition(bare)
      server = await startBenchServer(source)
      const whole = await wholeOnServer(server, bare.grid.starts.length)
      runs.push({ ...whole, bareMs, bareCpuSeconds, sessions: await server.sessionsStarted() })
    }
    if (server == null) throw new RangeError('repeats must be at least 1')
    const ms = median(runs.map(r => r.ms))
    const bareMs = median(runs.map(r => r.bareMs))
    const cpu = median(runs.map(r => r.cpuSeconds))
    const nodeCpu = median(runs.map(r => r.nodeCpuSeconds))
    const bareCpu = median(runs.map(r => r.bareCpuSeconds))
    const ratio = ratioOf(ms, bareMs)
    const row: Row = {
      id: '5',
      figure: `whole 60 s rendition ${PROFILE} until complete with a root`,
      value: ms / 1000,
      unit: 's',
      baseline: bareMs / 1000,
      baselineLabel: 'bare ffmpeg, same args',
      ratio,
      goal: `<= ${WHOLE_GOAL_RATIO}x`,
      pass: ratio != null && ratio <= WHOLE_GOAL_RATIO,
      note: `median of ${repeats}; last segment served at ${(median(runs.map(r => r.segmentsDoneMs)) / 1000).toFixed(2)} s; ` +
        `${Math.max(...runs.map(r => r.sessions))} ffmpeg session(s); CPU ${cpu.toFixed(1)} s (server ${nodeCpu.toFixed(1)} s + its ffmpeg) ` +
        `vs ${bareCpu.toFixed(1)} s bare = ${(cpu / bareCpu).toFixed(2)}x`,
      details: { runs }
    }
    return { row, server }
  } catch (err) {
    await server?.stop()
    throw err
  }
}
