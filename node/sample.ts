import { execFile } from 'node:child_process'
import { rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const SAMPLE_NAME = 'cidcast sample.mp4'
/** The sample's own NFO: by its name alone (`... sample.mp4`) it would be taken for a movie's sample clip, an extra. */
export const SAMPLE_NFO_NAME = 'cidcast sample.nfo'
export const SAMPLE_TITLE = 'cidcast sample'

const SAMPLE_NFO = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- written by npm start: labels the sample video beside it, as a Jellyfin or Kodi user would -->
<movie>
  <title>${SAMPLE_TITLE}</title>
  <plot>A 30 second test picture (ffmpeg's testsrc2) with a beep every second, made by npm start so the library has something to play.</plot>
</movie>
`

async function isFile (path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true
}

/**
 * Makes (once) a 30 s 720p H.264/AAC sample clip in `folder` with ffmpeg's test sources, and the NFO that names
 * it (written again when missing, as in a folder made before there was one); returns the clip's path.
 */
export async function ensureSampleVideo (ffmpeg: string, folder: string): Promise<string> {
  const path = join(folder, SAMPLE_NAME)
  const nfo = join(folder, SAMPLE_NFO_NAME)
  if (!await isFile(nfo)) await writeFile(nfo, SAMPLE_NFO)
  if (await isFile(path)) return path
  const partial = join(folder, `.partial-${process.pid}.mp4`)
  await run(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=48000:duration=30',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k',
    '-movflags', '+faststart', '-shortest', partial
  ])
  await rename(partial, path)
  return path
}
