import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nodeBinary } from '../node/sea/node-binaries.ts'
import { packageNode } from '../node/sea/package.ts'
import { HOST_TARGET, parseTargets } from '../node/sea/targets.ts'
import { median, ratioOf } from './table.ts'
import { rssMb, sleep, timeToFirstAnswer, untilRegistered } from './startup.ts'
import type { Row } from './table.ts'

/*
 * Issue #14's figures (rows n5-n7): the CDN node as the single executable (`npm run package`, built for this machine
 * into dist-bin/, or kept there when unchanged) beside the same node run from the npm install (rows n1 and n2,
 * measured in the same run on the same data folder): cold start to the first segment served from its blocks, idle
 * RSS once registered, and the file's size against the Node binary it is made from. Its cache folder (the unpacked
 * native addon and web UI) is a fresh one: the first of the cold starts unpacks them, the others reuse them.
 */

const COLD_START_GOAL_MS = 1000
/** The executable's idle RSS against the npm-installed node's. */
const IDLE_RSS_GOAL_RATIO = 1.1

/** How the executable is run: the node's flags (as `cidcast node` takes them), and where its gateway answers. */
export interface ExecutableRun {
  flags: string[]
  /** A segment URL (with its token) the node holds, and the node's base URL. */
  segmentUrl: string
  nodeUrl: string
  repeats: number
  idleSeconds: number
  log: (line: string) => void
}

/** What was measured of the executable. */
export interface ExecutableFigures {
  startsMs: number[]
  idleRssMb: number
  bytes: number
  nodeBinaryBytes: number
  path: string
}

/** Builds (or keeps) this machine's executable and measures its cold starts and idle RSS. */
export async function measureExecutable (run: ExecutableRun): Promise<ExecutableFigures> {
  const targets = parseTargets(HOST_TARGET)
  const [built] = await packageNode({ targets, log: line => { run.log(`package: ${line}`) } })
  const nodeBinaryBytes = (await stat(await nodeBinary(targets[0]))).size
  const cache = await mkdtemp(join(tmpdir(), 'cidcast-bench-executable-cache-'))
  const start = { command: built.path, args: run.flags, env: { XDG_CACHE_HOME: cache } }
  try {
    const startsMs: number[] = []
    for (let i = 0; i < run.repeats; i++) {
      const started = await timeToFirstAnswer(start, run.segmentUrl, true)
      startsMs.push(started.ms)
      await started.stop()
    }
    const running = await timeToFirstAnswer(start, `${run.nodeUrl}/healthz`, false)
    try {
      await untilRegistered(run.nodeUrl)
      await sleep(run.idleSeconds * 1000)
      const idleRssMb = await rssMb(running.pid)
      run.log(`executable: cold start ${startsMs.map(ms => ms.toFixed(0)).join(', ')} ms, idle RSS ${idleRssMb.toFixed(0)} MB, ${(built.bytes / 1e6).toFixed(1)} MB`)
      return { startsMs, idleRssMb, bytes: built.bytes, nodeBinaryBytes, path: built.path }
    } finally {
      await running.stop()
    }
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
}

/** Rows n5-n7 from the executable's figures, beside the npm-installed node's cold starts (n1) and idle RSS (n2). */
export function executableRows (figures: ExecutableFigures | Error, npm: { startsMs: number[], idleRssMb: number, ran: string }): Row[] {
  if (figures instanceof Error) {
    const note = `not measured: ${figures.message.split('\n')[0]}`
    return ['n5', 'n6', 'n7'].map(id => ({ id, figure: 'CDN node executable', value: null, unit: '', baseline: null, baselineLabel: '-', ratio: null, goal: '-', pass: null, note }))
  }
  const start = median(figures.startsMs)
  const rssRatio = ratioOf(figures.idleRssMb, npm.idleRssMb)
  return [{
    id: 'n5',
    figure: 'CDN node executable: cold start to the first segment served from its blocks',
    value: start,
    unit: 'ms',
    baseline: median(npm.startsMs),
    baselineLabel: 'npm-installed node (n1)',
    ratio: ratioOf(start, median(npm.startsMs)),
    goal: `<= ${COLD_START_GOAL_MS} ms`,
    pass: start <= COLD_START_GOAL_MS,
    note: `median of ${figures.startsMs.length} (${figures.startsMs.map(ms => ms.toFixed(0)).join(', ')} ms; the first unpacks the addon and UI): spawn of ${HOST_TARGET}'s executable on n1's data folder to a 200 with X-Cidcast-Source: local`,
    details: { startsMs: figures.startsMs, npmStartsMs: npm.startsMs }
  }, {
    id: 'n6',
    figure: 'CDN node executable: idle RSS (registered, no traffic)',
    value: figures.idleRssMb,
    unit: 'MB',
    baseline: npm.idleRssMb,
    baselineLabel: 'npm-installed node (n2)',
    ratio: rssRatio,
    goal: `<= ${IDLE_RSS_GOAL_RATIO.toFixed(2)}x the npm-installed node`,
    pass: rssRatio == null ? null : rssRatio <= IDLE_RSS_GOAL_RATIO,
    note: `the npm-installed node ran ${npm.ran}`,
    details: { idleRssMb: figures.idleRssMb, npmIdleRssMb: npm.idleRssMb }
  }, {
    id: 'n7',
    figure: `CDN node executable: size of ${figures.path.split('/').pop() ?? ''}`,
    value: figures.bytes / 1e6,
    unit: 'MB',
    baseline: figures.nodeBinaryBytes / 1e6,
    baselineLabel: 'the Node binary it is made from',
    ratio: ratioOf(figures.bytes, figures.nodeBinaryBytes),
    goal: 'reported',
    pass: null,
    note: 'the rest is the bundle, classic-level\'s prebuild and the web UI',
    details: { bytes: figures.bytes, nodeBinaryBytes: figures.nodeBinaryBytes }
  }]
}
