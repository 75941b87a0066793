import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { INIT_NAME } from '../core/hls/index.ts'
import { fixedGrid, PIECE_PATTERN, planLadder, probe, resolveFfmpeg, SEGMENT_SECONDS, SESSION_PLAYLIST, sessionArgs } from '../core/media/index.ts'
import { endedChildrenCpuSeconds } from './cpu-time.ts'
import { PROFILE } from './server.ts'
import type { RenditionPlan, SegmentGrid } from '../core/media/index.ts'
import type { ChildProcess } from 'node:child_process'

/**
 * The baselines of the transcoding figures: ffmpeg run directly with the very argv the server's sessions
 * use (`sessionArgs`), writing to a temporary folder, with nothing around it.
 */

/** What a bare run needs: the same plan and grid the server derives from the same probe. */
export interface BarePlan {
  ffmpeg: string
  ffmpegMajor: number
  input: string
  plan: RenditionPlan
  grid: SegmentGrid
}

// how often the bare runs look at ffmpeg's playlist besides fs.watch: fine enough to not flatter the server
const BARE_POLL_MS = 5

/** Probes `input` and picks the bench profile's plan, as the server's library does. */
export async function barePlan (input: string): Promise<BarePlan> {
  const binary = await resolveFfmpeg()
  const probed = await probe(binary.ffprobe, input)
  const plan = planLadder(probed).find(p => p.profile.name === PROFILE)
  if (plan == null) throw new Error(`${input} has no ${PROFILE} rendition`)
  if (plan.mode !== 'transcode') throw new Error(`${PROFILE} of ${input} is a ${plan.mode}, the bench expects a transcode`)
  return { ffmpeg: binary.ffmpeg, ffmpegMajor: binary.major, input, plan, grid: fixedGrid(probed.durationSeconds, SEGMENT_SECONDS) }
}

function spawnSession (bare: BarePlan, startIndex: number, outDir: string): { child: ChildProcess, exited: Promise<number | null> } {
  const args = sessionArgs({
    input: bare.input,
    plan: bare.plan,
    startIndex,
    startSeconds: bare.grid.starts[startIndex],
    segmentSeconds: SEGMENT_SECONDS,
    outDir,
    ffmpegMajor: bare.ffmpegMajor
  })
  const child = spawn(bare.ffmpeg, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', code => { resolve(code) })
    child.once('error', reject)
  })
  return { child, exited }
}

async function listedPieces (dir: string): Promise<number> {
  const text = await readFile(join(dir, SESSION_PLAYLIST), 'utf8').catch(() => '')
  return text.split('\n').filter(l => PIECE_PATTERN.test(l.trim())).length
}

/** Milliseconds from spawning ffmpeg at segment `startIndex` until its playlist lists the first piece. */
export async function bareFirstSegment (bare: BarePlan, startIndex: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-bare-'))
  try {
    const started = performance.now()
    const { child, exited } = spawnSession(bare, startIndex, dir)
    const first = Promise.withResolvers<number>()
    let looking = false
    const look = (): void => {
      if (looking) return
      looking = true
      void listedPieces(dir).then(count => {
        looking = false
        if (count > 0) first.resolve(performance.now() - started)
      })
    }
    const watcher = watch(dir, look)
    const poller = setInterval(look, BARE_POLL_MS)
    void exited.then(code => { first.reject(new Error(`ffmpeg exited (${code}) before its first piece`)) }, first.reject)
    try {
      return await first.promise
    } finally {
      watcher.close()
      clearInterval(poller)
      child.kill('SIGKILL')
      await exited.catch(() => {})
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Wall milliseconds and CPU seconds for ffmpeg to make the whole rendition from segment 0 (checked: every piece and the init exist). */
export async function bareWholeRendition (bare: BarePlan): Promise<{ ms: number, cpuSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-bare-'))
  try {
    const cpuBefore = await endedChildrenCpuSeconds()
    const started = performance.now()
    const { exited } = spawnSession(bare, 0, dir)
    const code = await exited
    const elapsed = performance.now() - started
    const cpuSeconds = await endedChildrenCpuSeconds() - cpuBefore
    const files = await readdir(dir)
    const pieces = files.filter(f => PIECE_PATTERN.test(f)).length
    // an exit status alone does not tell a good run: check what was written
    if (pieces !== bare.grid.starts.length || !files.includes(INIT_NAME)) {
      throw new Error(`bare ffmpeg (exit ${code}) wrote ${pieces} of ${bare.grid.starts.length} pieces`)
    }
    return { ms: elapsed, cpuSeconds }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
