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
