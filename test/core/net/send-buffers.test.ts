import { once } from 'node:events'
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'
import test from 'ava'
import { POOLED_SEND_MIN_BYTES, SEND_BUFFER_BYTES, SendBuffers } from '../../../core/net/send-buffers.ts'
import type { MultiaddrConnection } from '@libp2p/interface'

/** A loopback socket whose far end reads nothing until asked, and a raw connection with its write queue to set. */
async function stalledSocket (t: { teardown: (fn: () => void) => void }): Promise<{ socket: Socket, maConn: MultiaddrConnection & { writeBufferLength: number }, resume: () => void }> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no port')
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const socket = connect(address.port, '127.0.0.1')
  await once(socket, 'connect')
  const [far] = await accepted
  far.pause()
  t.teardown(() => { socket.destroy(); far.destroy(); server.close() })
  return { socket, maConn: { socket, writeBufferLength: 0 } as unknown as MultiaddrConnection & { writeBufferLength: number }, resume: () => { far.resume() } }
}

/** Whether two views share any byte. */
function overlap (a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

/** Writes `buf` until the socket queues bytes it could not hand to the kernel. */
function fillUntilQueued (socket: Socket, buf: Uint8Array): void {
  for (let i = 0; i < 10_000 && socket.writableLength === 0; i++) socket.write(buf)
  if (socket.writableLength === 0) throw new Error('the socket never queued')
}

test.serial('a buffer the socket still holds is not handed out again; once its queue is empty it is', async t => {
  const { socket, maConn, resume } = await stalledSocket(t)
  const buffers = new SendBuffers(maConn)
  const [first] = buffers.pieces(SEND_BUFFER_BYTES, 0)
  fillUntilQueued(socket, first)
  const [second] = buffers.pieces(SEND_BUFFER_BYTES, 0)
  t.not(second.buffer, first.buffer, 'the queued buffer is still the socket\'s')

  resume()
  await once(socket, 'drain')
  t.is(socket.writableLength, 0)
  maConn.writeBufferLength = 1
  const [third] = buffers.pieces(SEND_BUFFER_BYTES, 0)
  t.false([first.buffer, second.buffer].includes(third.buffer), 'bytes still in the raw connection\'s queue keep every lent buffer')
  maConn.writeBufferLength = 0
  const [fourth] = buffers.pieces(SEND_BUFFER_BYTES, 0)
  t.true([first.buffer, second.buffer, third.buffer].includes(fourth.buffer), 'with both queues empty the lent buffers come back')
})

test.serial('a send larger than one buffer is split into pieces that keep the keystream alignment', async t => {
  const { maConn } = await stalledSocket(t)
  const pieces = new SendBuffers(maConn).pieces(2 * SEND_BUFFER_BYTES + 5, 6)
  t.deepEqual(pieces.map(p => p.byteLength), [SEND_BUFFER_BYTES, SEND_BUFFER_BYTES, 5])
  t.deepEqual(pieces.map(p => p.byteOffset % 4), [2, 2, 2])
})

test.serial('small sends and connections without a TCP socket get a fresh buffer each time', async t => {
  const { maConn } = await stalledSocket(t)
  const pooled = new SendBuffers(maConn)
  const [a] = pooled.pieces(POOLED_SEND_MIN_BYTES - 1, 0)
  const [b] = pooled.pieces(POOLED_SEND_MIN_BYTES - 1, 0)
  t.is(a.byteLength, POOLED_SEND_MIN_BYTES - 1)
  t.false(overlap(a, b), 'two small sends never share bytes (they may share Node\'s allocation slab)')
  const other = new SendBuffers({ writeBufferLength: 0 } as unknown as MultiaddrConnection)
  const [c] = other.pieces(SEND_BUFFER_BYTES, 0)
  const [d] = other.pieces(SEND_BUFFER_BYTES, 0)
  t.false(overlap(c, d))
})
