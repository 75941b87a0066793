import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { createHeliaLight } from 'helia'
import { fixture } from '../../../fixtures/media.ts'
import { silentLogger } from '../../../core/logger.ts'
import { resolveFfmpeg } from '../../../core/media/ffmpeg-binary.ts'
import { fixedGrid, renditionKey } from '../../../core/media/grid.ts'
import { probe } from '../../../core/media/probe.ts'
import { planLadder } from '../../../core/media/profiles.ts'
import { createSegmentStore, memorySegmentIndex } from '../../../core/media/segment-store.ts'
import { FFMPEG_NICENESS_ABOVE_SERVER } from '../../../core/media/session.ts'
import { createTranscoder } from '../../../core/media/transcoder.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { FfmpegBinary } from '../../../core/media/ffmpeg-binary.ts'
import type { SegmentStore } from '../../../core/media/segment-store.ts'
import type { RenditionJob, Transcoder } from '../../../core/media/transcoder.ts'
import type { Helia } from '@helia/interface'
import type { TestFn } from 'ava'

const run = promisify(execFile)

/** A thread's or process's niceness and parent pid from its /proc stat line (fields after the command's closing paren). */
function statOf (line: string): { ppid: number, nice: number } {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(fields[1]), nice: Number(fields[16]) }
}

/** The niceness of every thread of each child process of this one named `comm`. */
async function childThreadNiceness (comm: string): Promise<number[][]> {
  const found: number[][] = []
  for (const pid of (await readdir('/proc')).filter(name => /^\d+$/.test(name))) {
    try {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== comm) continue
      if (statOf(await readFile(`/proc/${pid}/stat`, 'utf8')).ppid !== process.pid) continue
      const tasks = await readdir(`/proc/${pid}/task`)
      found.push(await Promise.all(tasks.map(async tid => statOf(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')).nice)))
    } catch {} // gone meanwhile
  }
  return found
}

interface Context {
  helia: Helia
  transcoder: Transcoder
  index: ReturnType<typeof memorySegmentIndex>
  store: SegmentStore
  started: number[]
  completed: string[]
  bin: FfmpegBinary
  job: (fixtureName: Parameters<typeof fixture>[0], profile?: string) => Promise<RenditionJob>
  remove: () => Promise<void>
  work: string
}

const test = anyTest as TestFn<Context>

test.beforeEach(async t => {
  const bin = await resolveFfmpeg()
  const dir = await tempDir()
  const helia = createHeliaLight({})
  await helia.start()
  const index = memorySegmentIndex()
  const store = createSegmentStore({ unixfs: unixfs(helia), index })
  const started: number[] = []
  const completed: string[] = []
  const transcoder = createTranscoder({
    logger: silentLogger(),
    ffmpeg: { path: bin.ffmpeg, major: bin.major },
    segments: store,
    workDir: dir.path,
    onSessionStart: (_job, at) => { started.push(at) },
    onComplete: async job => { completed.push(job.key) }
  }, { maxSessions: 2 })
  await transcoder.start()
  const job = async (name: Parameters<typeof fixture>[0], profile = '360p'): Promise<RenditionJob> => {
    const input = await fixture(name)
    const probed = await probe(bin.ffprobe, input)
    const plan = planLadder(probed).find(p => p.profile.name === profile)
    if (plan == null) throw new Error(`no ${profile} for ${name}`)
    const grid = fixedGrid(probed.durationSeconds)
    return { key: renditionKey(`${name}-${Math.random()}`, profile, 'test'), input, plan: { ...plan, mode: plan.mode === 'remux' ? 'transcode' : plan.mode }, grid, pieceSegment: (s, p) => s + p }
  }
  t.context = { helia, transcoder, index, store, started, completed, bin, job, work: dir.path, remove: dir.remove }
})

test.afterEach.always(async t => {
  await t.context.transcoder.stop()
  await t.context.helia.stop()
  await t.context.remove()
})

test('a second viewer of the same segments starts no ffmpeg', async t => {
  const { transcoder, job, started } = t.context
  const rendition = await job('h264-aac-10s')
  // two viewers at once share one session
  const [a, b] = await Promise.all([transcoder.segment(rendition, 0), transcoder.segment(rendition, 0)])
  t.is(a.cid.toString(), b.cid.toString())
  t.deepEqual(started, [0])
  // a later viewer gets pure hits
  const again = await transcoder.segment(rendition, 0)
  const init = await transcoder.init(rendition)
  t.is(again.cid.toString(), a.cid.toString())
  t.truthy(init.cid)
  t.deepEqual(started, [0])
})

test('a seek into the last third produces that segment without transcoding what lies before it', async t => {
  const { transcoder, job, index, started } = t.context
  const rendition = await job('h264-aac-720p-30s')
  const last = rendition.grid.starts.length - 1
  const target = Math.floor(last * 0.8)
  await transcoder.segment(rendition, target)
  t.deepEqual(started, [target])
  const made = index.indexes(rendition.key)
  t.true(made.length > 0)
  t.true(made.every(n => n >= target), `made ${made.join(',')}`)
})

test('segments made by two ffmpeg runs sit on the same grid and share one init segment', async t => {
  const { transcoder, job, store, helia, work } = t.context
  const rendition = await job('h264-aac-10s')
  // run B starts at segment 3 first; run A then makes 0.. and stops where B's segments begin
  const late = await transcoder.segment(rendition, 3)
  const initB = await transcoder.init(rendition)
  await transcoder.complete(rendition)
  t.deepEqual(t.context.completed, [rendition.key])
  const early = await store.get(rendition.key, 2)
  t.truthy(early)
  const fs = unixfs(helia)
  const bytes = async (cid: import('multiformats/cid').CID): Promise<Buffer> => {
    const parts: Uint8Array[] = []
    for await (const p of fs.cat(cid)) parts.push(p)
    return Buffer.concat(parts)
  }
  const joined = join(work, 'joined.mp4')
  await writeFile(joined, Buffer.concat([await bytes(initB.cid), await bytes(early?.cid as never), await bytes(late.cid)]))
  const { stdout } = await run(t.context.bin.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', joined])
  const keyframes = stdout.trim().split('\n').filter(l => l.includes('K')).map(l => Number(l.split(',')[0]))
  // segment 2 starts at 4 s and segment 3 at 6 s, whichever run made them
  t.deepEqual(keyframes.map(k => Math.round(k * 1000) / 1000), [4, 6])
  const frames = stdout.trim().split('\n').length
  t.true(frames >= 110 && frames <= 130, `expected ~120 frames for 4 s at 30 fps, got ${frames}`)
})

test('complete makes every missing segment and hands the rendition over once', async t => {
  const { transcoder, job, index, completed } = t.context
  const rendition = await job('vp9-opus-6s')
  await transcoder.complete(rendition)
  t.deepEqual(index.indexes(rendition.key), rendition.grid.starts.map((_, i) => i))
  t.deepEqual(completed, [rendition.key])
})

test('an audio-only source is cut on the grid', async t => {
  const { transcoder, job, index } = t.context
  const rendition = await job('audio-only-8s', 'audio')
  await transcoder.complete(rendition)
  t.is(rendition.grid.starts.length, 4)
  t.deepEqual(index.indexes(rendition.key), [0, 1, 2, 3])
})

test('a source that breaks mid-way fails the wait with TranscodeFailedError instead of hanging', async t => {
  const { transcoder, job } = t.context
  const rendition = await job('h264-aac-10s')
  // claim a grid longer than the file: ffmpeg ends before the last segments exist
  const broken: RenditionJob = { ...rendition, key: `${rendition.key}-broken`, grid: fixedGrid(30) }
  const err = await t.throwsAsync(transcoder.segment(broken, 14))
  t.is(err?.name, 'TranscodeFailedError')
})

test('sessions beyond the limit are refused while the running ones are busy', async t => {
  const { transcoder, job } = t.context
  const renditions = await Promise.all([job('h264-aac-720p-30s'), job('h264-aac-720p-30s'), job('h264-aac-720p-30s')])
  const results = await Promise.allSettled(renditions.map(async r => await transcoder.segment(r, 12)))
  const refused = results.filter(r => r.status === 'rejected')
  t.is(refused.length, 1)
  t.is((refused[0] as PromiseRejectedResult).reason.name, 'TooManySessionsError')
})

test('ffmpeg and every encoding thread it starts run nicer than the server', async t => {
  if (process.platform !== 'linux') return t.pass('niceness is read from /proc')
  const { transcoder, job } = t.context
  const rendition = await job('h264-aac-720p-30s', '720p')
  const own = statOf(await readFile('/proc/self/stat', 'utf8')).nice
  const expected = Math.min(19, own + FFMPEG_NICENESS_ABOVE_SERVER)
  const first = transcoder.segment(rendition, 0)
  // once ffmpeg has opened its input it runs its decoding and encoding threads
  const threads = await waitFor(async () => (await childThreadNiceness('ffmpeg')).find(list => list.length > 1), 20_000, 'an ffmpeg with its threads')
  t.deepEqual([...new Set(threads)], [expected], `threads' niceness: ${threads.join(', ')}`)
  await first
})
