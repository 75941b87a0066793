import { readdir, stat } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { SingleBar } from 'cli-progress'
import { createApiClient } from '../api-client.ts'

/** Adds in flight at once. */
const ADD_CONCURRENCY = 4

/** File endings `add` picks up when it walks a folder. */
const MEDIA_EXTENSIONS = new Set(['.mp4', '.m4v', '.mkv', '.webm', '.mov', '.avi', '.ts', '.m2ts', '.mpg', '.mpeg', '.wmv', '.flv', '.ogv', '.m4a', '.mp3', '.aac', '.flac', '.ogg', '.opus', '.wav'])

async function expand (path: string, out: string[]): Promise<void> {
  const info = await stat(path).catch(() => undefined)
  if (info?.isDirectory() === true) {
    const entries = await readdir(path, { withFileTypes: true })
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      const child = join(path, entry.name)
      if (entry.isDirectory()) await expand(child, out)
      else if (entry.isFile() && MEDIA_EXTENSIONS.has(extname(entry.name).toLowerCase())) out.push(child)
    }
  } else {
    // files (and missing paths) go to the server as named: it says what is wrong with them
    out.push(path)
  }
}

/** One-line rendering of a path for the terminal: control characters shown escaped. */
function shown (path: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path
}

/** `cidcast add PATH...`: adds files and folders through the server's API; returns the number that failed. */
export async function addCommand (paths: string[], options: { server: string, out?: NodeJS.WriteStream, err?: NodeJS.WriteStream }): Promise<number> {
  const out = options.out ?? process.stdout
  const err = options.err ?? process.stderr
  const files: string[] = []
  for (const p of paths) await expand(resolve(p), files)
  const client = createApiClient(options.server)
  const bar = err.isTTY ? new SingleBar({ format: 'adding [{bar}] {value}/{total} {file}', stream: err, hideCursor: true }) : undefined
  bar?.start(files.length, 0, { file: '' })
  let failed = 0
  let stopped = false
  // each add waits mostly on the server's ffprobe runs: a few at once keep its cores busy; lines keep file order
  let active = 0
  const waiting: Array<() => void> = []
  const results = files.map(async (file): Promise<string | Error | undefined> => {
    if (active >= ADD_CONCURRENCY) await new Promise<void>(resolve => { waiting.push(resolve) })
    active++
    try {
      if (stopped) return undefined
      return await client.addMedia(file).then(media => media.id, (e: unknown) => e as Error)
    } finally {
      active--
      waiting.shift()?.()
    }
  })
  for (let i = 0; i < files.length; i++) {
    bar?.update({ file: shown(files[i]).slice(-40) })
    const result = await results[i]
    if (result === undefined) break
    if (result instanceof Error) {
      failed++
      const error = result as Error & { code?: string }
      err.write(`error: ${shown(files[i])}: ${error.code ?? error.name}: ${error.message}\n`)
      // the rest would fail alike: the adds on their way finish, nothing new starts
      if (error.code === 'ServerUnreachableError') { stopped = true; break }
    } else {
      out.write(`added ${result} ${shown(files[i])}\n`)
    }
    bar?.increment()
  }
  stopped = true
  await Promise.all(results)
  bar?.stop()
  return failed
}
