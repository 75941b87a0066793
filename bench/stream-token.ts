import { sign, verify } from 'node:crypto'
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createStreamTokenSigner, createStreamTokenVerifier, openKeyRing, openSigningKeyRing, PUBLIC_KEYS_FILE, SIGNING_KEYS_FILE } from '../core/access/index.ts'
import Koa from 'koa'
import { silentLogger } from '../core/logger.ts'
import { streamAccess } from '../gateway/access/stream-access.ts'
import { percentile, ratioOf } from './table.ts'
import type { Row } from './table.ts'

/**
 * Issue 11's token figure, in process: what checking a signed stream token costs a CDN node per request. The node's
 * own key ring (public keys from its file) and verifier, over tokens as the main server signs them (a 16-hex media
 * id, five rendition roots). Cold: each token's first use (decode, key lookup, Ed25519 signature). Warm: every later
 * use, served from the verifier's cache, across many viewers' tokens in turn. Per request (a3): the node's whole
 * access check, the Koa middleware of both apps (the path, `?token=` from the query, the warm check), on a fresh
 * request context each time as a request has. Each call is timed on its own (performance.now() around it), so the
 * figures include the timer's own cost (~0.1 us).
 */

const GOAL_US = 50
const ROOTS = 5

export interface TokenBenchOptions {
  /** Distinct tokens (viewers) verified cold, then in turn while warm. @default 2000 */
  tokens?: number
  /** Warm verifications in all. @default 200000 */
  warmCalls?: number
  /** Requests through the access middleware. @default 50000 */
  requests?: number
}

/** Measures cold and warm stream-token verification on a node's verifier, and a request's access check: rows a1 (warm), a2 (cold), a3 (per request). */
export async function measureTokenVerification (options: TokenBenchOptions = {}): Promise<Row[]> {
  const count = options.tokens ?? 2000
  const warmCalls = options.warmCalls ?? 200_000
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-tokens-'))
  try {
    const logger = silentLogger()
    const keys = await openSigningKeyRing({ logger }, { path: join(dir, SIGNING_KEYS_FILE) })
    const node = await openKeyRing({ logger }, { path: join(dir, PUBLIC_KEYS_FILE) })
    await node.replace(keys.publicKeys())
    const signer = createStreamTokenSigner({ keys })
    const roots = await Promise.all(Array.from({ length: ROOTS }, async (_, i) => CID.createV1(0x70, await sha256.digest(new TextEncoder().encode(`rung ${i}`)))))
    const mediaId = '0123456789abcdef'
    const tokens = Array.from({ length: count }, (_, i) => signer.sign({ userId: `viewer-${i}`, mediaId, roots }, { ttlSeconds: 3600 }).token)
    const verifier = createStreamTokenVerifier({ keys: node }, { cacheSize: count })
    const request = { mediaId }

    // the baseline: one bare Ed25519 verification by node:crypto of a message as long as a token's
    const key = node.key(keys.current().id, Date.now())
    if (key == null) throw new Error('the node does not hold the signing key')
    const message = Buffer.alloc(Buffer.from(tokens[0], 'base64url').length - 64, 1)
    const signature = sign(null, message, keys.current().privateKey)
    const bare = timeEach(count, () => verify(null, message, key, signature))

    const cold = timeEach(count, i => verifier.verify(tokens[i], request))
    if (verifier.stats().misses !== count) throw new Error('the cold pass hit the cache')
    // warm-up of the hit path's code before the timed pass
    for (let i = 0; i < 10_000; i++) verifier.verify(tokens[i % count], request)
    const warm = timeEach(warmCalls, i => verifier.verify(tokens[(i * 7919) % count], request))
    if (verifier.stats().misses !== count) throw new Error('the warm pass missed the cache')

    const perRequest = await timeRequests(verifier, mediaId, tokens, options.requests ?? 50_000)

    const coldP50 = percentile(cold, 50)
    const requestP50 = percentile(perRequest, 50)
    const warmP50 = percentile(warm, 50)
    const bareP50 = percentile(bare, 50)
    const tokenChars = tokens[0].length
    return [{
      id: 'a1',
      figure: `stream token check on a node, warm cache: p50 (p99 ${percentile(warm, 99).toFixed(2)} us)`,
      value: warmP50,
      unit: 'us',
      // the first use (a2) is the cost the cache saves; as a ratio it would only print 0.00x
      baseline: null,
      baselineLabel: 'first use: a2',
      ratio: null,
      goal: `p50 < ${GOAL_US} us`,
      pass: warmP50 < GOAL_US,
      note: `${count} viewers' tokens (${tokenChars} characters, ${ROOTS} roots) verified in turn, ${warmCalls} calls; a player reuses its token for every playlist and segment, so a request pays this`,
      details: { p50: warmP50, p90: percentile(warm, 90), p99: percentile(warm, 99), max: percentile(warm, 100), calls: warmCalls, tokens: count, tokenChars }
    }, {
      id: 'a2',
      figure: `stream token check on a node, first use: p50 (p99 ${percentile(cold, 99).toFixed(0)} us)`,
      value: coldP50,
      unit: 'us',
      baseline: bareP50,
      baselineLabel: 'bare Ed25519 verify, node:crypto',
      ratio: ratioOf(coldP50, bareP50),
      goal: '-',
      pass: null,
      note: 'paid once per token and verifier, then cached; @noble/curves\' ed25519.verify measured 6-16x slower than node:crypto on this machine, hence node:crypto',
      details: { p50: coldP50, p90: percentile(cold, 90), p99: percentile(cold, 99), max: percentile(cold, 100), bareP50, bareP99: percentile(bare, 99), tokens: count }
    }, {
      id: 'a3',
      figure: `stream access check per request on a node: p50 (p99 ${percentile(perRequest, 99).toFixed(1)} us)`,
      value: requestP50,
      unit: 'us',
      baseline: warmP50,
      baselineLabel: 'the warm token check alone: a1',
      ratio: ratioOf(requestP50, warmP50),
      goal: `p50 < ${GOAL_US} us`,
      pass: requestP50 < GOAL_US,
      note: `${perRequest.length} segment requests through the access middleware (gateway/access/stream-access.ts) with ${count} viewers' tokens in ?token=, a fresh Koa context each (made outside the timing); segment throughput with and without tokens is a4`,
      details: { p50: requestP50, p90: percentile(perRequest, 90), p99: percentile(perRequest, 99), max: percentile(perRequest, 100), requests: perRequest.length }
    }]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Times the node's access middleware on `n` segment requests, each with one of `tokens` in its query; microseconds each. */
async function timeRequests (verifier: Parameters<typeof streamAccess>[0]['verifier'], mediaId: string, tokens: string[], n: number): Promise<number[]> {
  const app = new Koa()
  const check = streamAccess({ verifier }, { publicMedia: () => false })
  const next = async (): Promise<void> => {}
  const contextOf = (i: number): Koa.Context => {
    const req = new IncomingMessage(new Socket())
    req.method = 'GET'
    req.url = `/media/${mediaId}/720p/${i % 30}.m4s?token=${tokens[i % tokens.length]}`
    req.headers = { host: '127.0.0.1' }
    return app.createContext(req, new ServerResponse(req))
  }
  // the code paths warm before the timed pass
  for (let i = 0; i < 5000; i++) await check(contextOf(i), next)
  const samples = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const ctx = contextOf(i * 7919)
    const started = performance.now()
    await check(ctx, next)
    samples[i] = (performance.now() - started) * 1000
  }
  return samples
}

/** Runs `work(i)` for i in [0, n), timing each call alone; microseconds per call. */
function timeEach (n: number, work: (i: number) => unknown): number[] {
  const samples = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    work(i)
    samples[i] = (performance.now() - started) * 1000
  }
  return samples
}
