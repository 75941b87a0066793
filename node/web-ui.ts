import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { isSea } from 'node:sea'
import { fileURLToPath } from 'node:url'
import { embeddedWebUi } from './sea/embedded.ts'
import type { WebUi } from '../gateway/web-ui.ts'

/** Where the web UI lives on disk: the client's `public/` folder and hls.js from the installed packages (in the single executable: unpacked from it). */
export function webUi (): WebUi {
  if (isSea()) return embeddedWebUi()
  // one level below the project root, as the sources are and as dist/ (the bundle) is
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  return {
    dir: join(root, 'client', 'public'),
    hlsJs: join(dirname(createRequire(import.meta.url).resolve('hls.js/package.json')), 'dist', 'hls.min.js')
  }
}
