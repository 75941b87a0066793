import { startServer } from '../../node/server.ts'
import { announceReady } from './child.ts'

/**
 * The main server as a bench child: `node --import=tsx test/helpers/server-process.ts <dataDir>`. Announces
 * `{ url }` once it answers and stops cleanly on SIGTERM (so `--cpu-prof` profiles get written).
 */

const dataDir = process.argv[2]
if (dataDir == null || dataDir === '') throw new Error('usage: server-process.ts <dataDir>')
// DNS on a free port: several bench servers may live at once, and 5353 may be taken on the machine
const server = await startServer({ dataDir, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn' })
let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  void server.stop().finally(() => { process.exit(0) })
})
announceReady({ url: server.url })
