import { startNode } from '../../node/cdn-node.ts'
import type { StartNodeOptions } from '../../node/cdn-node.ts'

/**
 * A CDN node in a process of its own, for tests that kill it: `node --import=tsx test/e2e/replica-node.ts '<json
 * StartNodeOptions>'`. Prints `READY <json { url, peerId }>` once its gateway answers; SIGTERM stops it cleanly,
 * SIGKILL does not (that is the point).
 */

const options = JSON.parse(process.argv[2] ?? '{}') as StartNodeOptions
const node = await startNode(options)
process.on('SIGTERM', () => { void node.stop().finally(() => { process.exit(0) }) })
process.stdout.write(`READY ${JSON.stringify({ url: node.url, peerId: node.peer.libp2p.peerId.toString() })}\n`)
