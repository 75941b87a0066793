import { once } from 'node:events'
import { createServer } from 'node:net'
import test from 'ava'
import { openHttp, readBody } from '../../core/http-request.ts'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A raw HTTP/1.1 server that answers the first request of each connection with `body` and keeps the connection
 * open, and resets the connection on any later request on it: what a kept-alive connection the server just closed
 * looks like to the client sending on it.
 */
async function resettingServer (body: string): Promise<{ url: string, connections: () => number, requests: string[], close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const requests: string[] = []
  let connections = 0
  const server = createServer(socket => {
    connections++
    sockets.add(socket)
    let answered = false
    let head = ''
    socket.on('data', chunk => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      requests.push(head.split('\r\n')[0])
      head = ''
      if (answered) {
        socket.resetAndDestroy()
        return
      }
      answered = true
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`)
    })
    socket.on('error', () => {})
    socket.on('close', () => { sockets.delete(socket) })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    connections: () => connections,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}

test('a GET sent on a kept-alive connection that the server resets is sent again on a new connection', async t => {
  const server = await resettingServer('hello')
  t.teardown(server.close)
  t.is((await readBody(await openHttp(server.url))).toString(), 'hello')
  t.is((await readBody(await openHttp(server.url))).toString(), 'hello')
  t.deepEqual(server.requests, ['GET / HTTP/1.1', 'GET / HTTP/1.1', 'GET / HTTP/1.1'])
  t.is(server.connections(), 2)
})

test('a POST on such a connection is not sent twice: its failure is the caller\'s', async t => {
  const server = await resettingServer('hello')
  t.teardown(server.close)
  await readBody(await openHttp(server.url))
  await t.throwsAsync(openHttp(server.url, { method: 'POST', body: Buffer.from('once') }), { code: 'ECONNRESET' })
  t.is(server.requests.length, 2)
})

test('readBody stops where its chunk callback throws, and the answer is given up', async t => {
  const server = await resettingServer('x'.repeat(100_000))
  t.teardown(server.close)
  const answer = await openHttp(server.url)
  let seen = 0
  await t.throwsAsync(readBody(answer, bytes => {
    seen += bytes
    if (seen > 1000) throw new RangeError('too long')
  }), { instanceOf: RangeError })
  t.true(answer.destroyed)
})
