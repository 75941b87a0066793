import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { resolveFfmpeg } from '../core/media/ffmpeg-binary.ts'
import { ensureSampleVideo } from './sample.ts'
import { startServer } from './server.ts'

/** `npm start`: the whole system on embedded defaults, data in ./.cidcast, a sample video when the library is empty. */
async function start (): Promise<void> {
  const data = resolve(process.env.CIDCAST_DATA ?? '.cidcast')
  const server = await startServer({ dataDir: join(data, 'server') })
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    server.stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const items = await server.library.list({ limit: 1 })
  let first = items[0]
  if (first == null) {
    const samples = join(data, 'samples')
    await mkdir(samples, { recursive: true })
    process.stdout.write('making a sample video with ffmpeg...\n')
    const path = await ensureSampleVideo((await resolveFfmpeg()).ffmpeg, samples)
    first = await server.addMedia(path)
  }
  process.stdout.write([
    '',
    `cidcast main server: ${server.url}/`,
    `  play:     ${server.url}/#/media/${first.id}`,
    `  playlist: ${server.url}/media/${first.id}/master.m3u8`,
    `  API:      ${server.url}/api/v1/media`,
    `  data:     ${data}`,
    'Ctrl-C stops it.',
    ''
  ].join('\n'))
}

start().catch(err => {
  process.stderr.write(`error: ${(err as Error).name}: ${(err as Error).message}\n`)
  process.exit(1)
})
