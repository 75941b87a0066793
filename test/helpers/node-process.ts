import { CID } from 'multiformats/cid'
import { startNode } from '../../node/cdn-node.ts'
import { announceReady } from './child.ts'

/**
 * A CDN node as a bench child: `node --import=tsx test/helpers/node-process.ts <dataDir> <serverUrl> <swarmKey> <listen>
 * [pinRoot] [name]`. With `pinRoot` it first registers and pins that root (over bitswap from the main server). Announces
 * `{ url, pid }` once it answers and stops cleanly on SIGTERM.
 */

const [dataDir, server, swarmKeyFile, listen, pin, name] = process.argv.slice(2)
if (dataDir == null || server == null || swarmKeyFile == null || listen == null) {
  throw new Error('usage: node-process.ts <dataDir> <serverUrl> <swarmKey> <listen> [pinRoot] [name]')
}
const node = await startNode({
  dataDir,
  server,
  swarmKeyFile,
  listen,
  p2pListen: ['/ip4/127.0.0.1/tcp/0'],
  // several bench nodes of one main server each get a label of their own from their name
  name: name != null && name !== '' ? name : 'bench node',
  logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn'
})
let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  void node.stop().finally(() => { process.exit(0) })
})
if (pin != null && pin !== '') {
  const deadline = Date.now() + 60_000
  while (node.status().state !== 'registered') {
    if (Date.now() > deadline) throw new Error(`the bench node did not register: ${JSON.stringify(node.status().error)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  await node.pin(CID.parse(pin))
}
announceReady({ url: node.url, pid: process.pid })
