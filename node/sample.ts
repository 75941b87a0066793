import { execFile } from 'node:child_process'
import { rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const SAMPLE_NAME = 'cidcast sample.mp4'

/** Makes (once) a 30 s 720p H.264/AAC sample clip in `folder` with ffmpeg's test sources; returns its path. */
export async function ensureSampleVideo (ffmpeg: string, folder: string): Promise<string> {
  const path = join(folder, SAMPLE_NAME)
  if ((await stat(path).catch(() => undefined))?.isFile() === true) return path
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
