import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS } from '../helpers/auth.ts'
import { adminCredentials, launchBrowser, signIn } from '../helpers/browser.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { RunningServer } from '../../node/server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ server: RunningServer, remove: () => Promise<void> }>

test.before(async t => {
  const dir = await tempDir()
  const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context = { server, remove: dir.remove }
})

test.after.always(async t => {
  await t.context.server?.stop()
  await t.context.remove?.()
})

test('segments from two ffmpeg runs play across their boundary in Chromium without an hls.js error', async t => {
  const { server } = t.context
  const media = await server.addMedia(await fixture('h264-aac-10s'))
  const job = await server.library.job(media.id, '360p')
  // run B makes segments 2.. first; run A then makes 0-1 and stops where B's segments begin
  await server.transcoder.segment(job, 2)
  await server.transcoder.complete(job)
  const runs = server.metrics.ffmpegSessionsStarted
  t.true((await runs.get()).values[0].value >= 2)

  const { browser, close } = await launchBrowser()
  try {
    const context = await browser.newContext()
    await signIn(context, server.url, await adminCredentials(server))
    const page = await context.newPage()
    await page.goto(`${server.url}/`)
    await page.addScriptTag({ url: '/vendor/hls.min.js' })
    const result = await page.evaluate(async (src: string) => {
      const Hls = (window as unknown as { Hls: any }).Hls
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      const errors: string[] = []
      const hls = new Hls()
      hls.on(Hls.Events.ERROR, (_: unknown, data: { type: string, details: string, fatal: boolean }) => { errors.push(`${data.type}:${data.details}:${String(data.fatal)}`) })
      hls.loadSource(src)
      hls.attachMedia(video)
      await new Promise<void>(resolve => hls.on(Hls.Events.MANIFEST_PARSED, () => { resolve() }))
      await video.play()
      const deadline = Date.now() + 30_000
      // play past the end of run A (4 s) into run B
      while (video.currentTime < 6 && Date.now() < deadline && !video.ended) await new Promise(resolve => setTimeout(resolve, 100))
      return { currentTime: video.currentTime, errors, decoded: (video as unknown as { webkitDecodedFrameCount?: number }).webkitDecodedFrameCount ?? 0 }
    }, `${server.url}/media/${media.id}/360p/index.m3u8`)
    t.true(result.currentTime >= 6, `played to ${result.currentTime}`)
    t.deepEqual(result.errors, [])
    t.true(result.decoded > 100)
  } finally {
    await close()
  }
})
