import { startServer } from '../../node/server.ts'
import { TEST_ACCOUNTS } from './auth.ts'
import { announceReady } from './child.ts'

/**
 * The main server as a bench child: `node --import=tsx test/helpers/server-process.ts <dataDir>`. Announces
 * `{ url, token }` once it answers (`token`: an API token of its first admin, since every `/api/v1` call needs
 * one) and stops cleanly on SIGTERM (so `--cpu-prof` profiles get written).
 */

const dataDir = process.argv[2]
if (dataDir == null || dataDir === '') throw new Error('usage: server-process.ts <dataDir>')
// DNS on a free port: several bench servers may live at once, and 5353 may be taken on the machine. scrypt at the
// tests' cost: the bench measures serving, not the first admin's password hash (128 MiB and ~0.3 s at the default)
const server = await startServer({ dataDir, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn', accounts: TEST_ACCOUNTS })
let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  void server.stop().finally(() => { process.exit(0) })
})
// named per start: a server restarted on its folder (the fault tests) keeps the tokens of its earlier runs
const { token } = await server.accounts.addApiToken('admin', `bench ${process.pid}`)
announceReady({ url: server.url, token })
