import { setTimeout as sleep } from 'node:timers/promises'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import type { BlockRepairer } from './block-repair.ts'
import type { VerifiedBlockstore } from './verified-blockstore.ts'
import type { CodecLoader, Pins } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/**
 * Reads every block of every pinned DAG from local storage, hashes it again (whatever was verified before) and lists
 * the blocks that are missing or whose bytes no longer match their CID (a disk that flipped a bit, a file someone
 * edited). A damaged copy is removed as it is found (the verified blockstore quarantines it), so it is never served
 * meanwhile; with `repair`, every broken block is fetched again from the peers (block-repair.ts), checked on arrival.
 * `cidcast pin verify` on a node runs it at once; the scrub (scrub.ts) runs it slowly, over and over, on both sides.
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
  /** Blocks whose hash function is not checked here (identity, sha2-256 and sha2-512 are). */
  unchecked: number
  broken: BrokenBlock[]
  durationMs: number
}

export interface VerifyComponents {
  /** The verified blockstore under Helia (`findVerifiedBlockstore(peer.blockstore)`). */
  store: Pick<VerifiedBlockstore, 'check' | 'read'>
  /** Fetches broken blocks again; only used by `repair`. */
  repairer?: Pick<BlockRepairer, 'repair'>
  pins: Pick<Pins, 'ls' | 'isPinned'>
  getCodec: CodecLoader
}

export interface VerifyOptions {
  signal?: AbortSignal
  /** Fetch broken blocks again from the peers (a damaged copy is removed either way). @default false */
  repair?: boolean
  /** Deadline for fetching one broken block again. @default 30000 */
  repairTimeoutMs?: number
  /** Only these roots (they must be pinned). @default every pin */
  roots?: CID[]
  /** Most bytes read per second, on average since the start (the scrub's bound). @default no bound */
  bytesPerSecond?: number
  /** Told the report so far (the same object, updated) after each block read. */
  onProgress?: (report: VerifyReport) => void
}

function keyOf (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

/** Re-hashes the blocks of pinned DAGs and reports the broken ones (and repairs them when asked). */
export async function verifyPins (components: VerifyComponents, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now()
  const { signal } = options
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
      } else if (visited.has(key)) {
        bytes = known == null || known.repaired === true ? await components.store.read(cid, { signal }) : undefined
      } else {
        visited.add(key)
        const checked = await components.store.check(cid, { signal })
        let problem: BlockProblem | undefined
        if (checked.state === 'missing') problem = 'missing'
        else if (checked.state === 'damaged') problem = 'corrupt'
        else bytes = checked.bytes
        if (checked.state !== 'missing' && checked.bytes != null) {
          report.blocks++
          report.bytes += checked.bytes.byteLength
          if (checked.state === 'unchecked') report.unchecked++
          await pace(report.bytes, started, options)
        }
        // a root unpinned since the walk began loses its blocks on purpose: nothing is broken, nothing to fetch back
        if (problem === 'missing' && !await components.pins.isPinned(root, { signal })) break
        if (problem != null) {
          const entry: BrokenBlock = { cid: cid.toString(), roots: [root.toString()], problem }
          broken.set(key, entry)
          report.broken.push(entry)
          bytes = options.repair === true ? await repair(components, cid, entry, options) : undefined
        }
        report.durationMs = Date.now() - started
        options.onProgress?.(report)
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
  report.durationMs = Date.now() - started
  return report
}

/** Waits until `bytes` read since `started` are within the bound. */
async function pace (bytes: number, started: number, options: VerifyOptions): Promise<void> {
  if (options.bytesPerSecond == null || options.bytesPerSecond <= 0) return
  const due = started + bytes / options.bytesPerSecond * 1000
  const wait = due - Date.now()
  if (wait > 0) await sleep(wait, undefined, { signal: options.signal })
}

async function repair ({ repairer }: VerifyComponents, cid: CID, entry: BrokenBlock, options: VerifyOptions): Promise<Uint8Array | undefined> {
  try {
    if (repairer == null) throw new Error('nothing to repair with')
    const bytes = await repairer.repair(cid, { signal: options.signal, timeoutMs: options.repairTimeoutMs })
    entry.repaired = true
    return bytes
  } catch (err) {
    options.signal?.throwIfAborted()
    entry.repaired = false
    entry.error = (err as Error).name === 'TimeoutError' ? (err as Error).message : `${(err as Error).name}: ${(err as Error).message}`
    return undefined
  }
}
