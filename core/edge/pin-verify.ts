import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { verifyBlock } from './block-verify.ts'
import { DEFAULT_REWANT_MS } from './pin-fetch.ts'
import type { Blocks, CodecLoader, Pins } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/**
 * `cidcast pin verify` on a node: reads every block of every pinned DAG from the local blockstore, hashes it again
 * and lists the blocks that are missing or whose bytes no longer match their CID (a disk that flipped a bit, a
 * file someone edited). With `repair`, a broken block is deleted and fetched again over bitswap, where it is
 * verified on arrival.
 */

export type BlockProblem = 'corrupt' | 'missing'

export interface BrokenBlock {
  cid: string
  /** The pinned roots whose DAG holds it. */
  roots: string[]
  problem: BlockProblem
  /** With `repair`: whether a good copy was fetched. */
  repaired?: boolean
  /** With `repair`, when it failed: why. */
  error?: string
}

export interface VerifyReport {
  /** Pinned roots walked. */
  roots: number
  /** Distinct blocks read and hashed. */
  blocks: number
  bytes: number
  /** Blocks whose hash function this node does not check (only sha2-256 and identity are). */
  unchecked: number
  broken: BrokenBlock[]
  durationMs: number
}

export interface VerifyComponents {
  blockstore: Pick<Blocks, 'get' | 'has'>
  /** Deletes one block (see pin-collect.ts `localRemover`); only used by `repair`. */
  remove: (cid: CID) => Promise<void>
  pins: Pick<Pins, 'ls'>
  getCodec: CodecLoader
}

export interface VerifyOptions {
  signal?: AbortSignal
  /** Delete broken blocks and fetch them again. @default false */
  repair?: boolean
  /** Deadline for fetching one broken block again. @default 30000 */
  repairTimeoutMs?: number
  /** Only these roots (they must be pinned). @default every pin */
  roots?: CID[]
}

function keyOf (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

async function readLocal (blockstore: VerifyComponents['blockstore'], cid: CID, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  if (!(await blockstore.has(cid, { signal }))) return undefined
  const chunks: Uint8Array[] = []
  for await (const chunk of blockstore.get(cid, { signal, offline: true })) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

/** Re-hashes the blocks of pinned DAGs and reports the broken ones (and repairs them when asked). */
export async function verifyPins (components: VerifyComponents, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now()
  const { blockstore, signal } = { blockstore: components.blockstore, signal: options.signal }
  const report: VerifyReport = { roots: 0, blocks: 0, bytes: 0, unchecked: 0, broken: [], durationMs: 0 }
  const broken = new Map<string, BrokenBlock>()
  const visited = new Set<string>()
  const roots: CID[] = options.roots ?? []
  if (options.roots == null) for await (const pin of components.pins.ls({ signal })) roots.push(pin.cid)

  for (const root of roots) {
    report.roots++
    const pending: CID[] = [root]
    const walked = new Set<string>([keyOf(root)])
    for (let cid = pending.pop(); cid != null; cid = pending.pop()) {
      signal?.throwIfAborted()
      const key = keyOf(cid)
      const known = broken.get(key)
      if (known != null && !known.roots.includes(root.toString())) known.roots.push(root.toString())
      // a block shared by several DAGs is hashed once, but its children are still walked for this root
      let bytes: Uint8Array | undefined
      if (cid.multihash.code === identity.code) {
        bytes = cid.multihash.digest
      } else {
        bytes = await readLocal(blockstore, cid, signal)
        const first = !visited.has(key)
        visited.add(key)
        let problem: BlockProblem | undefined
        if (bytes == null) {
          problem = 'missing'
        } else if (first) {
          report.blocks++
          report.bytes += bytes.byteLength
          if (cid.multihash.code !== sha256.code) {
            report.unchecked++
          } else {
            try {
              await verifyBlock(cid, bytes)
            } catch {
              problem = 'corrupt'
            }
          }
        }
        if (problem != null && first) {
          const entry: BrokenBlock = { cid: cid.toString(), roots: [root.toString()], problem }
          broken.set(key, entry)
          bytes = options.repair === true ? await repair(components, cid, entry, options) : undefined
        } else if (broken.has(key)) {
          bytes = broken.get(key)?.repaired === true ? bytes : undefined
        }
      }
      // below a block that is missing or damaged (and not repaired) nothing can be found
      if (bytes == null || cid.code === raw.code) continue
      let block
      try {
        block = createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) })
      } catch {
        continue
      }
      for (const [, link] of block.links()) {
        const linkKey = keyOf(link)
        if (walked.has(linkKey)) continue
        walked.add(linkKey)
        pending.push(link)
      }
    }
  }
  report.broken = [...broken.values()]
  report.durationMs = Date.now() - started
  return report
}

async function repair ({ blockstore, remove }: VerifyComponents, cid: CID, entry: BrokenBlock, options: VerifyOptions): Promise<Uint8Array | undefined> {
  const timeout = AbortSignal.timeout(options.repairTimeoutMs ?? 30_000)
  const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
  try {
    // a pinned block is deleted here on purpose: its bytes are wrong, and a good copy takes its place
    if (entry.problem === 'corrupt') await remove(cid)
    // not offline: Helia fetches it over bitswap and checks it against its CID before storing it; wanted again
    // after a while, since the peer that first sent it may swallow the first want (pin-fetch.ts, DEFAULT_REWANT_MS)
    for (;;) {
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_REWANT_MS)])
      try {
        const chunks: Uint8Array[] = []
        for await (const chunk of blockstore.get(cid, { signal: attempt })) chunks.push(chunk)
        entry.repaired = true
        return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      } catch (err) {
        if (signal.aborted || !attempt.aborted) throw err
      }
    }
  } catch (err) {
    options.signal?.throwIfAborted()
    entry.repaired = false
    entry.error = timeout.aborted ? `no peer sent a good copy within ${options.repairTimeoutMs ?? 30_000} ms` : `${(err as Error).name}: ${(err as Error).message}`
    return undefined
  }
}
