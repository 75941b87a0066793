import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import test from 'ava'
import Koa from 'koa'
import { createDaemonLogger } from '../../core/logger.ts'
import { ACCEPT_SOCKETS, listenHttp } from '../../node/http-listener.ts'
import type { AddressInfo, Socket } from 'node:net'

const BURST = 200

async function silentLog (): Promise<Awaited<ReturnType<typeof createDaemonLogger>>> {
  return await createDaemonLogger({ level: 'silent', format: 'json', output: { write: () => {} } })
}

/** Keeps the event loop busy: each turn spends `ms` in JavaScript, as a node serving a crowd does, until stopped. */
function busyTurns (ms: number): { turns: () => number, stop: () => void } {
  let turns = 0
  let stopped = false
  const turn = (): void => {
    if (stopped) return
    const end = performance.now() + ms
    while (performance.now() < end) { /* a turn's work */ }
    turns++
    setImmediate(turn)
  }
  setImmediate(turn)
  return { turns: () => turns, stop: () => { stopped = true } }
}

test('a busy server accepts a burst of new connections in a few turns of its event loop, not one turn each', async t => {
  t.true(ACCEPT_SOCKETS > 1, 'this machine (Linux) shares the port among several listening sockets')
  const app = new Koa()
  const seen = new Set<Socket>()
  app.use(ctx => { seen.add(ctx.req.socket); ctx.body = 'ok' })
  const http = await listenHttp(app, { key: 'listen', address: '127.0.0.1:0' }, await silentLog())
  t.teardown(http.close)

  const busy = busyTurns(5)
  const clients: Socket[] = []
  t.teardown(() => { busy.stop(); for (const client of clients) client.destroy() })
  const started = busy.turns()
  for (let n = 0; n < BURST; n++) {
    const client = connect(http.address.port, '127.0.0.1')
    client.on('error', () => {})
    client.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    client.resume()
    clients.push(client)
  }
  const deadline = Date.now() + 60_000
  while (seen.size < BURST && Date.now() < deadline) await new Promise(resolve => setImmediate(resolve))
  const turns = busy.turns() - started
  t.log(`${BURST} connections accepted in ${turns} turns`)
  t.is(seen.size, BURST, 'every connection was accepted and answered')
  // one listening socket takes one connection a turn (libuv >= 1.45): BURST turns
  t.true(turns < BURST / 4, `${BURST} connections took ${turns} turns`)
})

test('a port another program holds is refused, also when this server shares its port among its own sockets', async t => {
  const held = createServer()
  held.listen({ port: 0, host: '127.0.0.1', reusePort: true })
  await once(held, 'listening')
  t.teardown(async () => { await new Promise(resolve => held.close(resolve)) })
  const port = (held.address() as AddressInfo).port
  const err = await t.throwsAsync(listenHttp(new Koa(), { key: 'listen', address: `127.0.0.1:${port}`, setBy: '--listen' }, await silentLog()))
  t.is(err?.name, 'PortInUseError')
  t.regex(err?.message ?? '', /--listen 127\.0\.0\.1:\d+ is in use by another program/)
})

test('closing the server closes every listening socket and open connection', async t => {
  const app = new Koa()
  app.use(ctx => { ctx.body = 'ok' })
  const http = await listenHttp(app, { key: 'listen', address: '127.0.0.1:0' }, await silentLog())
  const clients = await Promise.all(Array.from({ length: 20 }, async () => {
    const client = connect(http.address.port, '127.0.0.1')
    client.on('error', () => {})
    await once(client, 'connect')
    return client
  }))
  // a connection still in a listening socket's queue is reset, one accepted is ended: either way it closes
  const ended = clients.map(async client => await new Promise(resolve => client.once('close', resolve)))
  await http.close()
  await Promise.all(ended)
  const refused = connect(http.address.port, '127.0.0.1')
  const [err] = await once(refused, 'error') as [NodeJS.ErrnoException]
  t.is(err.code, 'ECONNREFUSED', 'no socket listens on the port any more')
})
