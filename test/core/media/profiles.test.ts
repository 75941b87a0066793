import test from 'ava'
import { fixedGrid, keyframeGrid } from '../../../core/media/grid.ts'
import { isProfileName } from '../../../core/hls/index.ts'
import { planLadder } from '../../../core/media/profiles.ts'
import type { ProbeResult } from '../../../core/media/probe.ts'

function source (width: number, height: number, extra: Partial<NonNullable<ProbeResult['video']>> = {}, audio = true): ProbeResult {
  return {
    durationSeconds: 10,
    sizeBytes: 1,
    formatName: 'mov,mp4',
    video: { codec: 'h264', width, height, fps: 30, pixFmt: 'yuv420p', rotation: 0, ...extra },
    audio: audio ? { codec: 'aac', channels: 2, sampleRate: 48000 } : undefined
  }
}

test('the ladder never goes above the source', t => {
  t.deepEqual(planLadder(source(1920, 1080)).map(p => p.profile.name), ['1080p', '720p', '480p', '360p'])
  t.deepEqual(planLadder(source(1280, 720)).map(p => p.profile.name), ['720p', '480p', '360p'])
  t.deepEqual(planLadder(source(320, 240)).map(p => [p.profile.name, p.width, p.height]), [['240p', 320, 240]])
})

test('a source below the lowest rung gets one rung named by its own height, and the routes accept every name', t => {
  t.deepEqual(planLadder(source(160, 90)).map(p => [p.profile.name, p.width, p.height]), [['90p', 160, 90]])
  t.deepEqual(planLadder(source(32, 18)).map(p => [p.profile.name, p.width, p.height]), [['18p', 32, 18]])
  t.deepEqual(planLadder(source(2, 2)).map(p => p.profile.name), ['2p'])
  for (const [width, height] of [[1, 1], [2, 2], [16, 9], [64, 36], [160, 90], [358, 358], [359, 640], [1920, 1080], [8192, 4320]]) {
    for (const plan of planLadder(source(width, height))) t.true(isProfileName(plan.profile.name), `${width}x${height}: ${plan.profile.name}`)
  }
})

test('a portrait or rotated source keeps its shape and even sizes', t => {
  const portrait = planLadder(source(720, 1280))
  t.deepEqual(portrait.map(p => [p.width, p.height]), [[720, 1280], [480, 854], [360, 640]])
  const rotated = planLadder(source(1280, 720, { rotation: 90 }))
  t.deepEqual(rotated[0], { ...rotated[0], width: 720, height: 1280, mode: 'transcode' })
  const odd = planLadder(source(854, 480))
  t.deepEqual(odd.map(p => [p.profile.name, p.width, p.height, p.mode]), [['480p', 854, 480, 'remux'], ['360p', 640, 360, 'transcode']])
})

test('only H.264/yuv420p with AAC at its own size is copied', t => {
  t.is(planLadder(source(1280, 720))[0].mode, 'remux')
  t.is(planLadder(source(1280, 720, { codec: 'vp9' }))[0].mode, 'transcode')
  t.is(planLadder(source(1280, 720, { pixFmt: 'yuv420p10le' }))[0].mode, 'transcode')
  t.is(planLadder(source(1280, 720, {}, false))[0].mode, 'remux')
  const audioOnly: ProbeResult = { durationSeconds: 8, sizeBytes: 1, formatName: 'mp4', audio: { codec: 'mp3', channels: 2, sampleRate: 44100 } }
  t.deepEqual(planLadder(audioOnly).map(p => [p.profile.name, p.mode]), [['audio', 'audio']])
})

test('the fixed grid lists every segment and folds a sliver at the end', t => {
  t.deepEqual(fixedGrid(7).durations, [2, 2, 2, 1])
  t.is(fixedGrid(6.02).starts.length, 3)
  t.is(fixedGrid(0.5).starts.length, 1)
})

test('the keyframe grid starts a segment at the first keyframe after each 2 s mark', t => {
  const grid = keyframeGrid(10, [0, 1, 2.5, 3, 4.1, 8, 9])
  t.deepEqual(grid.starts, [0, 2.5, 4.1, 8])
  t.deepEqual(grid.durations.map(d => Math.round(d * 10) / 10), [2.5, 1.6, 3.9, 2])
})
