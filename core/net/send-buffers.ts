import { Socket } from 'node:net'
import type { MultiaddrConnection } from '@libp2p/interface'

/**
 * Output buffers for the private-network protector, reused across sends and connections.
 *
 * Encrypting each send into a fresh megabyte-sized Buffer made a quarter of a busy connection's CPU garbage
 * collection (every such Buffer is external memory that V8 answers with a full mark-compact now and then). A buffer
 * may only be written again once nothing refers to it any more: the raw connection may still queue it (its write
 * buffer), or the socket may (its writable queue, or libuv writing it). Only a TCP connection says so: its socket's
 * `writableLength` counts every byte not yet handed to the kernel. So buffers are lent to a connection and come back
 * when, at its next send, both queues are empty; over any other transport every send gets a fresh buffer as before.
 */

/** Bytes of one pooled buffer's payload; a larger send takes several. A multiple of 4 (see `take`). */
export const SEND_BUFFER_BYTES = 1024 * 1024
/** Sends shorter than this get a fresh buffer: small allocations come from Node's slab and cost little. */
export const POOLED_SEND_MIN_BYTES = 16 * 1024
/** Free buffers kept for the whole process; more are let go. */
const MAX_FREE = 4
/** Free buffers are let go once none was taken for this long, so an idle process holds none. */
const IDLE_RELEASE_MS = 10_000

const free: Buffer[] = []
let lastTaken = 0
let releaseTimer: NodeJS.Timeout | undefined
const stats = { allocated: 0, reused: 0 }

/** How many pooled buffers were made and how many times one was reused, since the process started. */
export function sendBufferStats (): { allocated: number, reused: number, free: number } {
  return { ...stats, free: free.length }
}

function take (): Buffer {
  lastTaken = Date.now()
  const buf = free.pop()
  if (buf != null) {
    stats.reused++
    return buf
  }
  stats.allocated++
  // 3 spare bytes: a piece starts 0-3 bytes in so that the keystream's 4-byte words stay aligned
  return Buffer.allocUnsafeSlow(SEND_BUFFER_BYTES + 3)
}

function give (bufs: Buffer[]): void {
  for (const buf of bufs) {
    if (free.length < MAX_FREE) free.push(buf)
  }
  if (releaseTimer == null && free.length > 0) armRelease()
}

function armRelease (): void {
  releaseTimer = setTimeout(() => {
    releaseTimer = undefined
    if (Date.now() - lastTaken >= IDLE_RELEASE_MS) free.length = 0
    else armRelease()
  }, IDLE_RELEASE_MS)
  releaseTimer.unref()
}

/** The buffers one connection has lent to its raw connection, and the test of when they are back. */
export class SendBuffers {
  private lent: Buffer[] = []
  private readonly socket: Socket | undefined

  constructor (private readonly maConn: MultiaddrConnection) {
    // @libp2p/tcp keeps its net.Socket as `socket`; any other transport gets fresh buffers
    const socket = (maConn as { socket?: unknown }).socket
    this.socket = socket instanceof Socket ? socket : undefined
  }

  /**
   * `length` bytes of output split into pieces of at most SEND_BUFFER_BYTES, each starting at `align` modulo 4
   * (the keystream position of the piece's first byte, for whole pieces are a multiple of 4 long).
   */
  pieces (length: number, align: number): Buffer[] {
    const pad = align % 4
    if (this.socket == null || length < POOLED_SEND_MIN_BYTES) return [Buffer.allocUnsafe(pad + length).subarray(pad)]
    if (this.lent.length > 0 && this.socket.writableLength === 0 && this.maConn.writeBufferLength === 0) {
      give(this.lent)
      this.lent = []
    }
    const out: Buffer[] = []
    for (let offset = 0; offset < length; offset += SEND_BUFFER_BYTES) {
      const buf = take()
      this.lent.push(buf)
      out.push(buf.subarray(pad, pad + Math.min(SEND_BUFFER_BYTES, length - offset)))
    }
    return out
  }
}
