import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'

/*
 * The block stream (`/cidcast/blocks/1.0.0`): a whole DAG from a peer that holds it, in one libp2p stream, where
 * bitswap asks block by block. Every frame is an unsigned-varint length and that many bytes.
 *
 * requester -> holder: one frame, the request as UTF-8 JSON (BlockStreamRequest), then nothing (it closes its side).
 * holder -> requester: one frame, the answer as JSON (BlockStreamAnswer); when it is `ok`, the blocks of the DAG in
 * depth-first order (a node before its children), each frame a CARv1 section's body (the CID's bytes, then the
 * block's); a frame of length 0; one frame of JSON, the trailer (BlockStreamTrailer). The holder then closes.
 *
 * The requester checks each block against its CID and its place in the DAG (a child of a node already received or
 * held) before it keeps it. Both ends read with backpressure: the holder sends a block only once the stream has
 * taken the last, the requester stops reading while its work queue is full.
 */

/** The protocol's name, as libp2p negotiates it. */
export const BLOCK_STREAM_PROTOCOL = '/cidcast/blocks/1.0.0'
/** A request's frame, at most: a root, a credential and the `have` list. */
export const MAX_REQUEST_BYTES = 1024 * 1024
/** CIDs a request may list as held already (about 62 bytes each in JSON). */
export const MAX_HAVE = 15_000
/** A block frame, at most: bitswap's limit is 2 MiB and the import profile makes 1 MiB leaves; the CID besides. */
export const MAX_BLOCK_FRAME_BYTES = 4 * 1024 * 1024 + 256
/** Answer and trailer frames, at most. */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024
/** Blocks one stream walks, at most (256 GiB of 1 MiB leaves): what a holder remembers per stream is bounded by it. */
export const MAX_STREAM_BLOCKS = 256 * 1024

/** What a requester asks for. */
export interface BlockStreamRequest {
  /** The DAG's root, as a CID string. */
  root: string
  /** CIDs the requester holds already: the holder walks through them but does not send them. */
  have?: string[]
  /** The requester's node credential, which a holder asks of anyone when media are not public. */
  credential?: string
}

/** The holder's first frame: `ok`, or why not (an error name and words). */
export type BlockStreamAnswer = { ok: true } | { ok: false, error: string, message: string }

/** The holder's last frame: how many blocks it sent, and how many of the DAG it lacked (or why it stopped). */
export interface BlockStreamTrailer {
  sent: number
  missing: number
  error?: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A frame of `bytes`: its varint length, then the bytes. */
export function frame (bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(varint.encodingLength(bytes.byteLength) + bytes.byteLength)
  varint.encodeTo(bytes.byteLength, out)
  out.set(bytes, out.byteLength - bytes.byteLength)
  return out
}

/** A frame of `value` as JSON. */
export function jsonFrame (value: unknown): Uint8Array {
  return frame(encoder.encode(JSON.stringify(value)))
}

/** The head of a block's frame (length, then the CID): the block's own bytes follow it on the wire, uncopied. */
export function blockFrameHead (cid: CID, blockBytes: number): Uint8Array {
  const cidBytes = cid.bytes
  const length = cidBytes.byteLength + blockBytes
  const head = new Uint8Array(varint.encodingLength(length) + cidBytes.byteLength)
  varint.encodeTo(length, head)
  head.set(cidBytes, head.byteLength - cidBytes.byteLength)
  return head
}

/** The CID and the bytes of a block frame; throws when the frame does not start with a CID. */
export function parseBlockFrame (body: Uint8ArrayList): { cid: CID, bytes: Uint8Array } {
  // a CID is at most a few dozen bytes: decode it from a small copy of the frame's start
  const head = body.subarray(0, Math.min(body.byteLength, 128))
  const [cid, rest] = CID.decodeFirst(head)
  const offset = head.byteLength - rest.byteLength
  return { cid, bytes: body.subarray(offset) }
}

/** The JSON of a frame; throws a SyntaxError when it is not UTF-8 JSON. */
export function parseJson (body: Uint8ArrayList | Uint8Array): unknown {
  return JSON.parse(decoder.decode(body.subarray()))
}

/** A frame longer than allowed, or a stream that ended inside one. */
export class BlockStreamFrameError extends Error {
  static readonly code = 'BlockStreamFrameError'
  override readonly name = 'BlockStreamFrameError'
}

/** The other end took nothing, or sent nothing, for too long. */
export class BlockStreamStalledError extends Error {
  static readonly code = 'BlockStreamStalledError'
  override readonly name = 'BlockStreamStalledError'
}

/**
 * Writes to a stream, waiting for 'drain' when it says its buffer is full; no 'drain' within `timeoutMs` (a reader
 * that does not read) rejects.
 */
export async function send (stream: Stream, bytes: Uint8Array, timeoutMs: number): Promise<void> {
  if (stream.send(bytes)) return
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      if (err == null) resolve()
      else reject(err)
    }
    const onDrain = (): void => { done() }
    const onClose = (event: Event): void => { done((event as Event & { error?: Error }).error ?? new BlockStreamFrameError('the stream closed while a frame was being sent')) }
    const timer = setTimeout(() => { done(new BlockStreamStalledError(`the reader took nothing for ${timeoutMs} ms`)) }, timeoutMs)
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}

/**
 * Frames from a stream, with backpressure: once `highWaterBytes` wait unread, the stream is paused (its muxer stops
 * granting the sender window) until the reader has taken them below that.
 */
export class FrameReader {
  private readonly buffer = new Uint8ArrayList()
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private resuming = false
  private readonly detach: () => void

  /**
   * `streamBufferBytes`: what the stream itself may hold while paused (more aborts it): at least the sender's
   * window, up to 16 MiB for yamux, where backpressure is wanted; a little where the other end should send no more.
   */
  constructor (private readonly stream: Stream, private readonly highWaterBytes: number, streamBufferBytes = 20 * 1024 * 1024) {
    stream.maxReadBufferLength = streamBufferBytes
    const onMessage = (event: { data: Uint8Array | Uint8ArrayList }): void => {
      this.buffer.append(event.data)
      // not from inside resume(): its muxer would be told to resume after being told to pause
      if (!this.resuming) this.pauseWhenFull()
      this.notify()
    }
    const onEnd = (): void => {
      this.ended = true
      this.notify()
    }
    const onClose = (event: Event): void => {
      this.ended = true
      const error = (event as Event & { error?: Error }).error
      if (error != null) this.failure ??= error
      this.notify()
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('close', onClose)
    this.detach = () => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      stream.removeEventListener('close', onClose)
    }
    if (stream.remoteWriteStatus !== 'writable' && stream.readBufferLength === 0) this.ended = true
  }

  /** Takes the stream's data again; what it held back comes at once (and may fill the buffer again). */
  private resume (): void {
    this.resuming = true
    try {
      this.stream.resume()
    } finally {
      this.resuming = false
    }
    this.pauseWhenFull()
  }

  private pauseWhenFull (): void {
    if (this.buffer.byteLength >= this.highWaterBytes && this.stream.readStatus === 'readable') this.stream.pause()
  }

  /** The next frame's body (at most `maxBytes`), or null when the stream ended cleanly between frames. */
  async next (maxBytes: number, signal?: AbortSignal): Promise<Uint8ArrayList | null> {
    for (;;) {
      const body = this.take(maxBytes)
      if (body !== undefined) {
        if (this.stream.readStatus === 'paused' && this.buffer.byteLength < this.highWaterBytes) this.resume()
        return body
      }
      if (this.failure != null) throw this.failure
      if (this.ended) {
        if (this.buffer.byteLength > 0) throw new BlockStreamFrameError(`the stream ended inside a frame (${this.buffer.byteLength} bytes left)`)
        return null
      }
      // a frame not whole yet: more must come in, whatever is buffered
      if (this.stream.readStatus === 'paused') this.resume()
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { this.wake = undefined; reject(signal?.reason) }
        this.wake = () => { signal?.removeEventListener('abort', onAbort); resolve() }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /** Stops listening to the stream. */
  close (): void {
    this.detach()
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** A whole frame from the buffer, or undefined when it is not all here yet. */
  private take (maxBytes: number): Uint8ArrayList | undefined {
    const available = this.buffer.byteLength
    let length = 0
    let shift = 0
    let i = 0
    for (;; i++) {
      if (i >= available) return undefined
      if (i >= 8) throw new BlockStreamFrameError('a frame length longer than 8 bytes')
      const byte = this.buffer.get(i)
      length += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) break
    }
    if (length > maxBytes) throw new BlockStreamFrameError(`a frame of ${length} bytes, where at most ${maxBytes} are allowed here`)
    const start = i + 1
    if (available < start + length) return undefined
    const body = this.buffer.sublist(start, start + length)
    this.buffer.consume(start + length)
    return body
  }
}
