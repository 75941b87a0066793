import { execFile } from 'node:child_process'
import { chmod, copyFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { resolveFfmpeg } from '../../../core/media/ffmpeg-binary.ts'
import { probe, probeKeyframes, probeResultFromJson } from '../../../core/media/probe.ts'
import type { FfprobeJson, ProbeResult } from '../../../core/media/probe.ts'
import { fixture, fixtureNames } from '../../../fixtures/media.ts'
import type { FixtureName } from '../../../fixtures/media.ts'
import { tempDir } from '../../helpers/tmp.ts'

const run = promisify(execFile)
const BUNDLED_FFPROBE = (createRequire(import.meta.url)('@ffprobe-installer/ffprobe') as { path: string }).path
const DURATION_TOLERANCE_S = 0.1

let ffprobe: string
let ffmpeg: string

test.before(async t => {
  // A cold cache builds every fixture (~40 s on 2 busy cores); a warm one costs nothing
  t.timeout(600_000)
  ;({ ffprobe, ffmpeg } = await resolveFfmpeg())
  for (const name of fixtureNames) await fixture(name)
})

interface Expected {
  seconds: number
  format: RegExp
  video?: { codec: string, width: number, height: number, profile?: string }
  audio?: { codec: string }
}

const GOOD: Array<[FixtureName, Expected]> = [
  ['h264-aac-10s', { seconds: 10, format: /mp4/, video: { codec: 'h264', width: 1280, height: 720, profile: 'High' }, audio: { codec: 'aac' } }],
  ['h264-aac-1080p-60s', { seconds: 60, format: /mp4/, video: { codec: 'h264', width: 1920, height: 1080, profile: 'High' }, audio: { codec: 'aac' } }],
  ['vp9-opus-6s', { seconds: 6, format: /webm/, video: { codec: 'vp9', width: 640, height: 360 }, audio: { codec: 'opus' } }],
  ['audio-only-8s', { seconds: 8, format: /m4a/, audio: { codec: 'aac' } }],
  ['portrait-6s', { seconds: 6, format: /mp4/, video: { codec: 'h264', width: 720, height: 1280 }, audio: { codec: 'aac' } }],
  ['odd-854x480-6s', { seconds: 6, format: /mp4/, video: { codec: 'h264', width: 854, height: 480 }, audio: { codec: 'aac' } }],
  ['h264-aac-720p-30s', { seconds: 30, format: /mp4/, video: { codec: 'h264', width: 1280, height: 720 }, audio: { codec: 'aac' } }]
]

function checkProbe (t: import('ava').ExecutionContext, result: ProbeResult, expected: Expected): void {
  t.true(Math.abs(result.durationSeconds - expected.seconds) <= DURATION_TOLERANCE_S, `duration ${result.durationSeconds}`)
  t.regex(result.formatName, expected.format)
  t.true(result.sizeBytes > 0)
  t.true((result.bitRate ?? 0) > 0)
  if (expected.video == null) {
    t.is(result.video, undefined)
  } else {
    t.like(result.video, { ...expected.video, fps: 30, pixFmt: 'yuv420p', rotation: 0 })
  }
  t.like(result.audio, { ...expected.audio, channels: 2, sampleRate: 48_000 })
}

for (const [name, expected] of GOOD) {
  test(`probe reports the codecs, size and duration of ${name}`, async t => {
    checkProbe(t, await probe(ffprobe, await fixture(name)), expected)
  })
}

test('the bundled ffprobe gives the same answer', async t => {
  const [, expected] = GOOD[0] as [FixtureName, Expected]
  checkProbe(t, await probe(BUNDLED_FFPROBE, await fixture('h264-aac-10s')), expected)
})

const BAD: Array<[FixtureName, RegExp]> = [
  ['zero-bytes.mp4', /empty/],
  ['not-media.mp4', /not a readable media file/],
  ['truncated.mp4', /not a readable media file/],
  ['image.png', /still image/]
]

for (const [name, message] of BAD) {
  test(`probe refuses ${name} with InvalidMediaError and a one-line message`, async t => {
    const path = await fixture(name)
    const err = await t.throwsAsync(probe(ffprobe, path))
    t.is(err?.name, 'InvalidMediaError')
    t.regex(err?.message ?? '', message)
    t.false(err?.message.includes('\n'))
    t.false(err?.message.includes(path), 'no file paths in messages users may see')
    t.true((err?.message.length ?? 0) < 140)
  })
}

test('probe refuses a missing path with PathNotFoundError', async t => {
  const err = await t.throwsAsync(probe(ffprobe, '/nonexistent/folder/clip.mp4'))
  t.is(err?.name, 'PathNotFoundError')
})

test('probe refuses a folder with InvalidPathError', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const err = await t.throwsAsync(probe(ffprobe, dir.path))
  t.is(err?.name, 'InvalidPathError')
})

test('probe refuses an ffconcat list, an HLS playlist and an image2 pattern by their container, before opening what they name', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  // a FIFO blocks whoever opens it: a probe that followed the list would hang until its deadline
  await run('mkfifo', [join(dir.path, 'blocks.mp4')])
  await writeFile(join(dir.path, 'list.mp4'), 'ffconcat version 1.0\nfile blocks.mp4\nduration 6\n')
  await writeFile(join(dir.path, 'playlist.mkv'), '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nblocks.mp4\n#EXT-X-ENDLIST\n')
  await copyFile(await fixture('image.png'), join(dir.path, 'shot-%03d.png'))
  await copyFile(await fixture('image.png'), join(dir.path, 'shot-001.png'))
  await run('mkfifo', [join(dir.path, 'shot-002.png')])
  const cases: Array<[string, RegExp]> = [['list.mp4', /^concat is not a source container format$/], ['playlist.mkv', /^hls is not a source container format$/], ['shot-%03d.png', /^a still image \(image2\) is not media$/]]
  for (const [name, message] of cases) {
    const err = await t.throwsAsync(probe(ffprobe, join(dir.path, name), { timeoutMs: 15_000 }), undefined, name)
    t.is(err?.name, 'InvalidMediaError', name)
    t.regex(err?.message ?? '', message, name)
    const keyframes = await t.throwsAsync(probeKeyframes(ffprobe, join(dir.path, name), { timeoutMs: 15_000 }), undefined, name)
    t.regex(keyframes?.message ?? '', message, name)
  }
})

test('probe and probeKeyframes take file names with spaces, quotes, a leading dash, a colon and a newline', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const odd = join(dir.path, '-i "quoted" \'name\' with:colon\nand newline.mp4')
  await copyFile(await fixture('h264-aac-10s'), odd)
  const result = await probe(ffprobe, odd)
  t.like(result.video, { codec: 'h264', width: 1280, height: 720 })
  t.deepEqual(await probeKeyframes(ffprobe, odd), [0, 2, 4, 6, 8])
})

test('probe reads a relative path against the working folder', async t => {
  const path = await fixture('audio-only-8s')
  const result = await probe(ffprobe, join('.', path.slice(process.cwd().length + 1)))
  t.is(result.audio?.codec, 'aac')
})

test('probe reports the rotation of a clip with a display matrix', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const rotated = join(dir.path, 'rotated.mp4')
  await run(ffmpeg, ['-nostdin', '-v', 'error', '-i', await fixture('portrait-6s'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated])
  const result = await probe(ffprobe, rotated)
  // Builds disagree on which way the rotate tag turns; any quarter turn proves the matrix was read
  t.true(result.video?.rotation === 90 || result.video?.rotation === 270, `rotation ${result.video?.rotation}`)
})

test('probeKeyframes lists the keyframe times of the first video stream', async t => {
  t.deepEqual(await probeKeyframes(ffprobe, await fixture('h264-aac-10s')), [0, 2, 4, 6, 8])
  const long = await probeKeyframes(ffprobe, await fixture('h264-aac-1080p-60s'))
  t.is(long.length, 30)
  t.deepEqual(await probeKeyframes(ffprobe, await fixture('audio-only-8s')), [])
})

test('probeKeyframes refuses a truncated file', async t => {
  const err = await t.throwsAsync(probeKeyframes(ffprobe, await fixture('truncated.mp4')))
  t.is(err?.name, 'InvalidMediaError')
})

test('probe gives up with InvalidMediaError when ffprobe hangs, and honours an abort signal', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const hanging = join(dir.path, 'ffprobe')
  await writeFile(hanging, '#!/bin/sh\nexec sleep 60\n')
  await chmod(hanging, 0o755)
  const clip = await fixture('h264-aac-10s')

  const timedOut = await t.throwsAsync(probe(hanging, clip, { timeoutMs: 200 }))
  t.is(timedOut?.name, 'InvalidMediaError')
  t.regex(timedOut?.message ?? '', /did not finish/)

  const controller = new AbortController()
  const pending = probe(hanging, clip, { signal: controller.signal })
  setImmediate(() => { controller.abort() })
  const aborted = await t.throwsAsync(pending)
  t.is(aborted?.name, 'AbortError')
})

const STREAM = { codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p', avg_frame_rate: '30000/1001' }

test('probeResultFromJson turns display-matrix and tag rotations into clockwise degrees', t => {
  const withMatrix: FfprobeJson = { format: { format_name: 'mov', duration: '5' }, streams: [{ ...STREAM, side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }] }
  t.is(probeResultFromJson(withMatrix, 1).video?.rotation, 90)
  const withTag: FfprobeJson = { format: { format_name: 'mov', duration: '5' }, streams: [{ ...STREAM, tags: { rotate: '270' } }] }
  t.is(probeResultFromJson(withTag, 1).video?.rotation, 270)
  t.is(probeResultFromJson(withTag, 1).video?.fps, 29.97)
})

test('probeResultFromJson refuses cover art, single-frame mjpeg and files without duration', t => {
  const coverOnly: FfprobeJson = { format: { format_name: 'mp3', duration: '5' }, streams: [{ ...STREAM, codec_name: 'mjpeg', disposition: { attached_pic: 1 } }] }
  t.is(t.throws(() => probeResultFromJson(coverOnly, 1))?.name, 'InvalidMediaError')
  const stillMjpeg: FfprobeJson = { format: { format_name: 'mov,mp4', duration: '0.04' }, streams: [{ ...STREAM, codec_name: 'mjpeg', nb_frames: '1' }] }
  t.regex(t.throws(() => probeResultFromJson(stillMjpeg, 1))?.message ?? '', /still pictures/)
  const noDuration: FfprobeJson = { format: { format_name: 'mov,mp4' }, streams: [STREAM] }
  t.regex(t.throws(() => probeResultFromJson(noDuration, 1))?.message ?? '', /no duration/)
  const audioWithCover: FfprobeJson = {
    format: { format_name: 'mp3', duration: '5' },
    streams: [{ codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' }, { ...STREAM, codec_name: 'png', disposition: { attached_pic: 1 } }]
  }
  const result = probeResultFromJson(audioWithCover, 1)
  t.is(result.video, undefined)
  t.is(result.audio?.codec, 'mp3')
})
