import { join } from 'node:path'
import test from 'ava'
import { fixture } from '../../../fixtures/media.ts'
import { resolveFfmpeg } from '../../../core/media/ffmpeg-binary.ts'
import { PosterFrameError, createPosterFrames, posterFrameArgs } from '../../../core/media/poster-frame.ts'
import { probe } from '../../../core/media/probe.ts'
import { jpegSize } from '../../helpers/jpeg.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { FixtureName } from '../../../fixtures/media.ts'
import type { FrameSource } from '../../../core/media/poster-frame.ts'

async function source (name: FixtureName): Promise<FrameSource> {
  const path = await fixture(name)
  const probed = await probe((await resolveFfmpeg()).ffprobe, path)
  return { path, durationSeconds: probed.durationSeconds, probe: probed }
}

test('the argv seeks before its input, reads it through the file protocol only and keeps a hostile name a name', t => {
  const args = posterFrameArgs({ input: '/media/-i concat:x|y.mp4', atSeconds: 6.0000001, widthPx: 480 })
  const input = args.indexOf('-i')
  t.is(args[input + 1], 'file:/media/-i concat:x|y.mp4')
  t.true(args.indexOf('-ss') < input && args.indexOf('-protocol_whitelist') < input)
  t.is(args[args.indexOf('-protocol_whitelist') + 1], 'file')
  t.is(args[args.indexOf('-ss') + 1], '6')
  t.is(args[args.indexOf('-frames:v') + 1], '1')
  t.is(args.at(-1), 'pipe:1')
  t.throws(() => posterFrameArgs({ input: 'relative.mp4', atSeconds: 1, widthPx: 480 }), { instanceOf: RangeError })
  t.throws(() => posterFrameArgs({ input: '/a.mp4', atSeconds: Number.NaN, widthPx: 480 }), { instanceOf: RangeError })
})

test('a frame is a JPEG at most 480 px wide with the shape of the picture', async t => {
  const frames = createPosterFrames({ ffmpeg: (await resolveFfmpeg()).ffmpeg })
  const cases: Array<[FixtureName, { width: number, height: number }]> = [
    ['h264-aac-10s', { width: 480, height: 270 }],
    ['portrait-6s', { width: 480, height: 854 }],
    ['odd-854x480-6s', { width: 480, height: 270 }],
    ['vp9-opus-6s', { width: 480, height: 270 }]
  ]
  for (const [name, size] of cases) {
    const media = await source(name)
    t.true(frames.hasPicture(media), name)
    t.deepEqual(jpegSize(await frames.take(media)), size, name)
  }
})

test('audio has no picture, a time past the end falls back to the first frame, and a missing file is a PosterFrameError', async t => {
  let taken = 0
  const frames = createPosterFrames({ ffmpeg: (await resolveFfmpeg()).ffmpeg, onTaken: () => { taken++ } })
  t.false(frames.hasPicture(await source('audio-only-8s')))
  t.false(frames.hasPicture({ path: '/a.mp4', durationSeconds: 1, probe: {} }))

  const clip = await source('h264-aac-10s')
  // a duration that says 1000 s asks for 100 s of a 10 s clip
  t.deepEqual(jpegSize(await frames.take({ ...clip, durationSeconds: 1000 })), { width: 480, height: 270 })
  t.is(taken, 1)

  const dir = await tempDir()
  t.teardown(dir.remove)
  const gone = { ...clip, path: join(dir.path, 'gone.mp4') }
  const err = await t.throwsAsync(frames.take(gone), { instanceOf: PosterFrameError })
  t.false(err?.message.includes(dir.path), 'the path stays out of the message')
  t.is(taken, 1)

  const aborted = new AbortController()
  aborted.abort()
  await t.throwsAsync(frames.take(clip, { signal: aborted.signal }), { name: 'AbortError' })
})
