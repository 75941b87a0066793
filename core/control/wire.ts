import { lpStream } from '@libp2p/utils'
import { InvalidControlMessageError } from './errors.ts'
import { MAX_CONTROL_MESSAGE_BYTES } from './messages.ts'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** One control stream: JSON values framed by unsigned-varint lengths, at most MAX_CONTROL_MESSAGE_BYTES each. */
export interface ControlWire {
  /** Reads one message and parses its JSON (InvalidControlMessageError if it is not JSON or too large). */
  read (options?: AbortOptions): Promise<unknown>
  /** Writes one message, waiting for the stream to drain if its buffer is full. */
  write (message: unknown, options?: AbortOptions): Promise<void>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Wraps a libp2p stream for control messages. */
export function controlWire (stream: Stream): ControlWire {
  // lpStream waits on the 'drain' event (not onDrain(), which is armed only once in @libp2p/utils 7.4)
  const lp: LengthPrefixedStream<Stream> = lpStream(stream, {
    maxDataLength: MAX_CONTROL_MESSAGE_BYTES,
    // a whole message plus its length prefix; more buffered than that is a peer ignoring the protocol
    maxBufferSize: MAX_CONTROL_MESSAGE_BYTES + 16
  })
  return {
    async read (options) {
      let bytes
      try {
        bytes = await lp.read(options)
      } catch (err: any) {
        if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError' || err?.name === 'StreamBufferError') {
          throw new InvalidControlMessageError(`the message is larger than ${MAX_CONTROL_MESSAGE_BYTES} bytes`)
        }
        throw err
      }
      let text: string
      try {
        text = decoder.decode(bytes.subarray())
        return JSON.parse(text)
      } catch {
        throw new InvalidControlMessageError('the message is not UTF-8 JSON')
      }
    },
    async write (message, options) {
      const bytes = encoder.encode(JSON.stringify(message))
      if (bytes.byteLength > MAX_CONTROL_MESSAGE_BYTES) {
        throw new InvalidControlMessageError(`the message is ${bytes.byteLength} bytes; at most ${MAX_CONTROL_MESSAGE_BYTES} are allowed`)
      }
      await lp.write(bytes, options)
    }
  }
}
