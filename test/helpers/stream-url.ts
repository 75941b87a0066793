import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createStreamTokenSigner, openKeyRing, openSigningKeyRing, PUBLIC_KEYS_FILE, SIGNING_KEYS_FILE } from '../../core/access/index.ts'
import { silentLogger } from '../../core/logger.ts'
import type { RunningServer } from '../../node/server.ts'

/*
 * Signed stream URLs for tests: a node's `/media` and `/ipfs` serve only requests that carry a stream token, so
 * tests that fetch from a node ask the in-process main server's play-URL service for one, as the play route does.
 */

/** A stream token for `mediaId` (its media paths and its finished renditions' roots) from the main server's play-URL service. */
export async function streamToken (server: Pick<RunningServer, 'streamUrls'>, mediaId: string, options: { userId?: string, ttlSeconds?: number } = {}): Promise<string> {
  const { token } = await server.streamUrls.create({ userId: options.userId ?? 'test', mediaId, ttlSeconds: options.ttlSeconds ?? 3600 })
  return token
}

/** `url` with `token=` added to its query. */
export function withToken (url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
}

/** A stream token signed with the key file of a main server in another process (its data folder is the test's). */
export async function streamTokenFromKeyFile (serverData: string, mediaId: string, options: { roots?: string[], ttlSeconds?: number } = {}): Promise<string> {
  const keys = await openSigningKeyRing({ logger: silentLogger() }, { path: join(serverData, SIGNING_KEYS_FILE) })
  return createStreamTokenSigner({ keys }).sign({ userId: 'test', mediaId, roots: options.roots ?? [] }, { ttlSeconds: options.ttlSeconds ?? 3600 }).token
}

/** A stream token for `/ipfs/{root}/...` of any roots (at most 16; and `/media/{mediaId}/...`), signed with the in-process main server's keys. */
export function rootToken (server: Pick<RunningServer, 'streamKeys'>, roots: string[], mediaId = 'roots'): string {
  return createStreamTokenSigner({ keys: server.streamKeys }).sign({ userId: 'test', mediaId, roots }, { ttlSeconds: 3600 }).token
}

/**
 * Marks a node's data folder as a node of a main server whose media are public (its key file), for nodes that run
 * without a main server and so never receive keys or a node credential: their gateways then serve each other.
 */
export async function publicMediaFolder (dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  await (await openKeyRing({ logger: silentLogger() }, { path: join(dataDir, PUBLIC_KEYS_FILE) })).replace([], { publicMedia: true })
}

/** The child URIs of a playlist: URI lines and `URI="..."` attributes. */
function children (text: string): string[] {
  return text.split('\n').flatMap(line => {
    if (line.startsWith('#')) return [...line.matchAll(/URI="([^"]*)"/g)].map(m => m[1])
    return line.trim() === '' ? [] : [line.trim()]
  })
}

/** Plays `url` as hls.js would: the playlist, then every child it names (resolved against it), depth first. */
export async function play (url: string): Promise<Array<{ url: string, status: number, token: string | null }>> {
  const res = await fetch(url)
  const fetched = [{ url, status: res.status, token: new URL(url).searchParams.get('token') }]
  const body = await res.text()
  if (res.status !== 200 || !new URL(url).pathname.endsWith('.m3u8')) return fetched
  for (const child of children(body)) fetched.push(...await play(new URL(child, url).href))
  return fetched
}

/** GETs `url` and answers its status and error name. */
export async function refused (url: string): Promise<{ status: number, error?: string, message?: string }> {
  const res = await fetch(url)
  const body = await res.json() as { error?: string, message?: string }
  return { status: res.status, error: body.error, message: body.message }
}
