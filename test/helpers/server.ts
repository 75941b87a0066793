import { join } from 'node:path'
import { startServer } from '../../node/server.ts'
import { adminToken, TEST_ACCOUNTS } from './auth.ts'
import { serverDatabase } from './database.ts'
import { tempDir } from './tmp.ts'
import type { RunningServer, StartServerOptions } from '../../node/server.ts'

/** A main server of a test, the temporary folder that holds its data (in `<dir>/data`), and their end. */
export interface TestServer {
  server: RunningServer
  dir: string
  /** An API token of the server's first admin (also carried by `cidcast()` runs pointed at it). */
  token: string
  /** Stops the server, then removes the folder. */
  stop: () => Promise<void>
}

/**
 * Starts a quiet main server on free loopback ports (HTTP, DNS, libp2p) with its data in a fresh temporary folder, and
 * an admin token; its catalog in the test process's dialect (test/helpers/database.ts).
 */
export async function startTestServer (options: StartServerOptions = {}): Promise<TestServer> {
  const dir = await tempDir()
  try {
    const server = await startServer({ dataDir: join(dir.path, 'data'), listen: '127.0.0.1:0', dnsListen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', accounts: TEST_ACCOUNTS, ...await serverDatabase(), ...options })
    return { server, dir: dir.path, token: await adminToken(server), stop: async () => { try { await server.stop() } finally { await dir.remove() } } }
  } catch (err) {
    await dir.remove()
    throw err
  }
}
