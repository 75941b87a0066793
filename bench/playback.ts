import { bareFirstSegment } from './bare-ffmpeg.ts'
import { fetchOk, newClient, timed } from '../test/helpers/http.ts'
import { withToken } from '../test/helpers/stream-url.ts'
import { PROFILE, startBenchServer } from './server.ts'
import { median, percentile, ratioOf } from './table.ts'
import type { BarePlan } from './bare-ffmpeg.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * Figures 1-3: how soon a player gets its first segment from a cold rendition, after a seek, and as a
 * second viewer. Each cold run uses a fresh server and data folder, so nothing is cached but the source
 * file in the page cache (which the bare ffmpeg baseline, run just before, enjoys too).
 */

/** Seek target of figure 2: 45 s lies in segment 22 on the 2 s grid. */
export const SEEK_SECONDS = 45
const FIRST_SEGMENT_GOAL_MS = 1000
const BARE_TOLERANCE = 1.10
const SEEK_GOAL_RATIO = 1.2
const SECOND_VIEWER_GOAL_MS = 20

export interface StartupOptions {
  /** Cold runs per figure; the median is reported. @default 5 */
  repeats?: number
  /** Second-viewer tries. @default 50 */
  tries?: number
}

interface ColdRun {
  ms: number
  bytes: number
  /** ffmpeg sessions the run started. */
  sessions: number
}

/** A player's start on `server` through its play URL: master and media playlists (not timed), then `first` files at once (timed). */
async function coldStart (server: BenchServer, files: string[]): Promise<ColdRun> {
  const client = newClient()
  try {
    await fetchOk(withToken(`${server.url}/media/${server.id}/master.m3u8`, server.streamToken), client)
    await fetchOk(withToken(`${server.rendition}/index.m3u8`, server.streamToken), client)
    let bytes = 0
    const ms = await timed(async () => {
      // in the order given: a seek asks for its segment before the init segment
      await Promise.all(files.map(async f => { bytes += (await fetchOk(withToken(`${server.rendition}/${f}`, server.streamToken), client)).body.byteLength }))
    })
    return { ms, bytes, sessions: await server.sessionsStarted() }
  } finally {
    client.destroy()
  }
}

/** A new client's playlist, then init and first segment at once, `tries` times, with `token` when given (a play URL's); milliseconds per try. */
export async function secondViewer (rendition: string, tries: number, token?: string): Promise<number[]> {
  const at = (file: string): string => token == null ? `${rendition}/${file}` : withToken(`${rendition}/${file}`, token)
  const samples: number[] = []
  for (let i = 0; i < tries; i++) {
    const client = newClient()
    try {
      samples.push(await timed(async () => {
        await fetchOk(at('index.m3u8'), client)
        await Promise.all([fetchOk(at('init.mp4'), client), fetchOk(at('0.m4s'), client)])
      }))
    } finally {
      client.destroy()
    }
  }
  return samples
}

/** Second viewers on `server` while what made its first segments may still run; counts new ffmpeg sessions. */
export async function measureSecondViewer (server: BenchServer, tries: number): Promise<{ samples: number[], newSessions: number }> {
  const before = await server.sessionsStarted()
  const samples = await secondViewer(server.rendition, tries, server.streamToken)
  return { samples, newSessions: (await server.sessionsStarted()) - before }
}

/** Figures 1, 2 and 3 (second viewer while the first viewer's session still runs). */
export async function measureStartup (source: string, bare: BarePlan, options: StartupOptions = {}): Promise<Row[]> {
  const repeats = options.repeats ?? 5
  const tries = options.tries ?? 50
  const seekIndex = bare.grid.starts.findLastIndex(s => s <= SEEK_SECONDS)
  const cold: ColdRun[] = []
  const seek: ColdRun[] = []
  const bareCold: number[] = []
  const bareSeek: number[] = []
  let viewer: { samples: number[], newSessions: number } | undefined
  for (let run = 0; run < repeats; run++) {
    bareCold.push(await bareFirstSegment(bare, 0))
    const server = await startBenchServer(source)
    try {
      cold.push(await coldStart(server, ['init.mp4', '0.m4s']))
      // the last cold server: a second viewer arrives while the first viewer's ffmpeg is still encoding ahead
      if (run === repeats - 1) viewer = await measureSecondViewer(server, tries)
    } finally {
      await server.stop()
    }
    bareSeek.push(await bareFirstSegment(bare, seekIndex))
    const seekServer = await startBenchServer(source)
    try {
      seek.push(await coldStart(seekServer, [`${seekIndex}.m4s`, 'init.mp4']))
    } finally {
      await seekServer.stop()
    }
  }
  const coldMs = median(cold.map(r => r.ms))
  const seekMs = median(seek.map(r => r.ms))
  const bareColdMs = median(bareCold)
  const coldRatio = ratioOf(coldMs, bareColdMs)
  const rows: Row[] = [{
    id: '1',
    figure: `first segment ${PROFILE}, cold (init + 0.m4s)`,
    value: coldMs / 1000,
    unit: 's',
    baseline: bareColdMs / 1000,
    baselineLabel: 'bare ffmpeg, 1st piece',
    ratio: coldRatio,
    goal: `<= ${FIRST_SEGMENT_GOAL_MS / 1000} s and <= ${BARE_TOLERANCE.toFixed(2)}x`,
    pass: coldMs <= FIRST_SEGMENT_GOAL_MS && coldRatio != null && coldRatio <= BARE_TOLERANCE,
    note: `median of ${repeats} cold starts, each right after bare ffmpeg's (${cold.map(r => r.ms.toFixed(0)).join(', ')} ms; bare ${bareCold.map(ms => ms.toFixed(0)).join(', ')} ms)`,
    details: { runsMs: cold.map(r => r.ms), bareRunsMs: bareCold, bytes: cold.map(r => r.bytes), sessionsStarted: cold.map(r => r.sessions) }
  }]
  const seekRatio = ratioOf(seekMs, coldMs)
  const seekSessions = seek.map(r => r.sessions)
  rows.push({
    id: '2',
    figure: `first segment after seek to ${SEEK_SECONDS} s (${seekIndex}.m4s + init)`,
    value: seekMs / 1000,
    unit: 's',
    baseline: coldMs / 1000,
    baselineLabel: 'figure 1',
    ratio: seekRatio,
    goal: `<= ${SEEK_GOAL_RATIO}x figure 1`,
    pass: seekRatio != null && seekRatio <= SEEK_GOAL_RATIO,
    note: seekSessions.some(n => n > 1)
      ? `a seek started ${Math.max(...seekSessions)} ffmpeg sessions (init.mp4 launched its own at segment 0)`
      : undefined,
    details: { runsMs: seek.map(r => r.ms), bareSeekRunsMs: bareSeek, bareSeekMedianMs: median(bareSeek), sessionsStarted: seekSessions }
  })
  if (viewer != null) rows.push(secondViewerRow('3', 'second viewer, 1st viewer\'s ffmpeg running (playlist+init+0), p50', viewer, { value: coldMs, label: 'figure 1' }))
  return rows
}

/** A second-viewer figure (playlist + init + first segment, p50) against `baseline`; `extraNote` ends its note. */
export function secondViewerRow (id: string, figure: string, viewer: { samples: number[], newSessions: number }, baseline: { value: number | null, label: string, samplesMs?: number[] }, extraNote = ''): Row {
  const p50 = percentile(viewer.samples, 50)
  return {
    id,
    figure,
    value: p50,
    unit: 'ms',
    baseline: baseline.value,
    baselineLabel: baseline.label,
    ratio: ratioOf(p50, baseline.value),
    goal: `p50 <= ${SECOND_VIEWER_GOAL_MS} ms, 0 new ffmpeg`,
    pass: p50 <= SECOND_VIEWER_GOAL_MS && viewer.newSessions === 0,
    note: `${viewer.samples.length} tries, p95 ${percentile(viewer.samples, 95).toFixed(1)} ms, ${viewer.newSessions} new ffmpeg sessions${extraNote}`,
    details: { samplesMs: viewer.samples, ...(baseline.samplesMs == null ? {} : { baselineSamplesMs: baseline.samplesMs }), newSessions: viewer.newSessions }
  }
}
