import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bearer } from '../test/helpers/auth.ts'
import { startChild } from '../test/helpers/child.ts'
import type { BenchChild } from '../test/helpers/child.ts'

/** The profile every figure plays. */
export const PROFILE = '720p'

/** A main server in its own process with a fresh data folder and the bench source added. */
export interface BenchServer {
  url: string
  /** An API token of the server's admin: every `/api/v1` call needs one, and it reads `/media` and `/ipfs` as stored. */
  token: string
  /**
   * The stream token of the source's play URL on the main server (`GET /api/v1/media/{id}/play`): what a player
   * sends with every playlist and segment request (nobody reads `/media` without a credential).
   */
  streamToken: string
  /** Process id of the server. */
  pid: number
  /** The server's data folder (its `swarm.key` is what a bench CDN node joins with). */
  dataDir: string
  /** Media id of the source. */
  id: string
  /** `${url}/media/${id}/${PROFILE}`: where the rendition's playlist, init and segments are. */
  rendition: string
  /** `cidcast_ffmpeg_sessions_started_total`, read from `/metrics`. */
  sessionsStarted: () => Promise<number>
  /** The 720p rendition as `GET /api/v1/media/{id}` shows it. */
  renditionState: () => Promise<{ state: string, root: string | null }>
  stop: () => Promise<void>
}

const SERVER_SCRIPT = fileURLToPath(new URL('../test/helpers/server-process.ts', import.meta.url))

/** How a bench main server runs: variables added to its environment (e.g. `CIDCAST_DISTRIBUTION`). */
export interface BenchServerOptions {
  env?: Record<string, string>
}

/**
 * Waits for the poster the server takes from a new media's video (an ffmpeg run in the background, right after the
 * add). A viewer plays what they clicked on, a poster the library shows; timing a cold start while that ffmpeg still
 * ran measured the two competing for the 2 cores (figure 1 read 1.17-1.35x bare ffmpeg with it, 1.04-1.12x without).
 */
async function untilPoster (url: string, token: string, id: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(`${url}/api/v1/media/${id}`, { headers: bearer(token) })
    if (!res.ok) throw new Error(`media ${id} answered ${res.status}: ${await res.text()}`)
    const media = await res.json() as { images?: { poster?: unknown } }
    if (media.images?.poster != null) return
    if (Date.now() > deadline) throw new Error(`media ${id} got no poster from its video within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Starts a main server on a fresh data folder, adds `source` through `POST /api/v1/media` and waits for its poster. */
export async function startBenchServer (source: string, options: BenchServerOptions = {}): Promise<BenchServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cidcast-bench-server-'))
  let child: BenchChild<{ url: string, token: string }> | undefined
  const stop = async (): Promise<void> => {
    await child?.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    child = await startChild<{ url: string, token: string }>(SERVER_SCRIPT, [dataDir], undefined, { env: options.env })
    const { url, token } = child.ready
    const added = await fetch(`${url}/api/v1/media`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify({ path: source })
    })
    if (!added.ok) throw new Error(`adding ${source} answered ${added.status}: ${await added.text()}`)
    const { id } = await added.json() as { id: string }
    await untilPoster(url, token, id)
    const play = await fetch(`${url}/api/v1/media/${id}/play`, { headers: bearer(token) })
    if (!play.ok) throw new Error(`a play URL of ${id} answered ${play.status}: ${await play.text()}`)
    const streamToken = new URL((await play.json() as { url: string }).url).searchParams.get('token')
    if (streamToken == null) throw new Error(`the play URL of ${id} carries no token`)
    return {
      url,
      token,
      streamToken,
      pid: child.child.pid!,
      dataDir,
      id,
      rendition: `${url}/media/${id}/${PROFILE}`,
      sessionsStarted: async () => {
        const text = await (await fetch(`${url}/metrics`)).text()
        const line = /^cidcast_ffmpeg_sessions_started_total (\d+)/m.exec(text)
        if (line == null) throw new Error('/metrics has no cidcast_ffmpeg_sessions_started_total')
        return Number(line[1])
      },
      renditionState: async () => {
        const media = await (await fetch(`${url}/api/v1/media/${id}`, { headers: bearer(token) })).json() as { renditions: Array<{ profile: string, state: string, root: string | null }> }
        const rendition = media.renditions.find(r => r.profile === PROFILE)
        if (rendition == null) throw new Error(`media ${id} has no ${PROFILE} rendition`)
        return { state: rendition.state, root: rendition.root }
      },
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}
