import { join } from 'node:path'
import { fixture } from '../fixtures/media.ts'
import { startServer } from '../node/server.ts'
import { fetchOk, newClient, timed } from '../test/helpers/http.ts'
import { tempDir } from '../test/helpers/tmp.ts'
import { median, percentile, ratioOf } from './table.ts'
import type { RunningServer } from '../node/server.ts'
import type { Row } from './table.ts'

/*
 * Issue #11's start-latency figures: what signing in costs a viewer's playback start. a5: a signed-in player's
 * start (ask `/play` for a signed URL, then the master playlist, the media playlist, init and first segment under its
 * token, each playlist rewritten to carry it) against the same start on a twin server whose media are public (no
 * `/play`, no token), in interleaved tries on fresh connections. a5b: the login itself, paid once per session: its
 * cost is scrypt's, by design. Both servers run in this process, on loopback, each with a finished 360p rendition.
 */

const GOAL_ADDED_MS = 20
const SOURCE = 'h264-aac-10s'

export interface PlayStartOptions {
  /** Tries of each start. @default 40 */
  tries?: number
  /** Logins timed. @default 5 */
  logins?: number
}

interface Running {
  server: RunningServer
  id: string
}

async function serverWithRendition (dataDir: string, publicMedia: boolean): Promise<Running> {
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: 'silent', publicMedia })
  const media = await server.addMedia(await fixture(SOURCE))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  return { server, id: media.id }
}

async function login (server: RunningServer): Promise<string> {
  const admin = server.firstAdmin
  if (admin == null) throw new Error('a fresh server names its first admin')
  const res = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: admin.user.name, password: admin.password }) })
  if (!res.ok) throw new Error(`login answered ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

/** A player's start from `master`: master and media playlists, then init and first segment at once; milliseconds. */
async function start (master: string, before?: () => Promise<string>): Promise<number> {
  const client = newClient()
  try {
    return await timed(async () => {
      const url = before == null ? master : await before()
      const query = new URL(url).search
      const base = url.slice(0, url.indexOf('/master.m3u8'))
      await fetchOk(url, client)
      await fetchOk(`${base}/360p/index.m3u8${query}`, client)
      await Promise.all([fetchOk(`${base}/360p/init.mp4${query}`, client), fetchOk(`${base}/360p/0.m4s${query}`, client)])
    })
  } finally {
    client.destroy()
  }
}

/** Figures a5 and a5b. */
export async function measurePlayStart (options: PlayStartOptions = {}): Promise<Row[]> {
  const tries = options.tries ?? 40
  const dir = await tempDir('cidcast-bench-play-')
  const started: RunningServer[] = []
  try {
    const signed = await serverWithRendition(join(dir.path, 'signed'), false)
    started.push(signed.server)
    const open = await serverWithRendition(join(dir.path, 'open'), true)
    started.push(open.server)

    const logins: number[] = []
    let session = ''
    for (let i = 0; i < (options.logins ?? 5); i++) logins.push(await timed(async () => { session = await login(signed.server) }))

    const play = async (): Promise<string> => {
      const res = await fetch(`${signed.server.url}/api/v1/media/${signed.id}/play`, { headers: { Authorization: `Bearer ${session}` } })
      if (!res.ok) throw new Error(`play answered ${res.status}`)
      return ((await res.json()) as { url: string }).url
    }
    const openMaster = `${open.server.url}/media/${open.id}/master.m3u8`
    // warm-up of both paths, then interleaved tries: a neighbour's burst hits both alike
    await start(openMaster)
    await start('', play)
    const withAuth: number[] = []
    const without: number[] = []
    for (let i = 0; i < tries; i++) {
      without.push(await start(openMaster))
      withAuth.push(await start('', play))
    }
    const a = median(withAuth)
    const b = median(without)
    const loginMs = median(logins)
    return [{
      id: 'a5',
      figure: `playback start signed in (play URL, then playlists, init, first segment under its token): median (p90 ${percentile(withAuth, 90).toFixed(1)} ms)`,
      value: a,
      unit: 'ms',
      baseline: b,
      baselineLabel: 'the same start on a public twin (no /play, no token)',
      ratio: ratioOf(a, b),
      goal: `adds < ${GOAL_ADDED_MS} ms`,
      pass: a - b < GOAL_ADDED_MS,
      note: `adds ${(a - b).toFixed(1)} ms; ${tries} interleaved tries each on fresh connections, finished 360p rendition of ${SOURCE}, main servers in process on loopback; login (a5b) is once per session`,
      details: { withAuth, without, added: a - b }
    }, {
      id: 'a5b',
      figure: 'login (POST /api/v1/auth/login): median',
      value: loginMs,
      unit: 'ms',
      baseline: null,
      baselineLabel: '-',
      ratio: null,
      goal: '-',
      pass: null,
      note: 'scrypt N=2^17 r=8 p=1 (128 MiB, memory-hard on purpose: what a stolen password file costs to attack); once per 30-day sliding session, never per playback',
      details: { logins }
    }]
  } finally {
    for (const server of started.reverse()) await server.stop().catch(() => {})
    await dir.remove()
  }
}
