import { join } from 'node:path'
import { startNode } from '../../node/cdn-node.ts'
import { waitFor } from './tmp.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'

/**
 * A CDN node of a test on loopback, in `<dir>/<name>` with the main server's `<dir>/server/swarm.key`, quiet and quick
 * to retry; pushed onto `running` (stopped after the test) and returned once it has registered.
 */
export async function registeredNode (context: { dir: string, running: Array<{ stop: () => Promise<void> }> }, serverUrl: string, name: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  const started = await startNode({
    dataDir: join(context.dir, name),
    swarmKeyFile: join(context.dir, 'server', 'swarm.key'),
    server: serverUrl,
    name,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500,
    ...options
  })
  context.running.push(started)
  await waitFor(() => started.status().state === 'registered', 20_000, `${name} to register (${JSON.stringify(started.status().error)})`)
  return started
}
