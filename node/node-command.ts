import { setFlagsFromString } from 'node:v8'
import { Option } from 'commander'
import { collect } from '../client/commands/options.ts'
import { fail, logFormatOption, logLevelOption, size, stopOnSignals } from './command-line.ts'
import type { Command } from 'commander'
import type { LogFormat } from '../core/logger.ts'

/*
 * Running a CDN node from the command line: the options and the action of `cidcast node` and of `cidcast-node` (the
 * single executable's default action), written once so both accept the same flags and behave alike.
 */

/** V8's Wasm tier-up budget for a CDN node (V8's default is 13,000,000): see `runCdnNode`. */
const NODE_WASM_TIERING_BUDGET = 2_000_000_000

/** The flags of a CDN node, as commander parses them. */
export interface NodeFlags {
  data?: string
  name?: string
  mode?: 'shared' | 'local'
  owner?: string
  region?: string
  tags?: string
  server?: string
  swarmKey?: string
  listen?: string
  p2pListen?: string[]
  url?: string
  fallback?: 'origin' | 'redirect' | 'peer'
  pinFrom?: 'any' | 'p2p'
  quota?: number
  cacheSize?: number
  logLevel?: string
  logFormat?: LogFormat
}

/** Gives `command` the CDN node's description, options and action (`cidcast node`, or `cidcast-node` itself). */
export function nodeCommand (command: Command): Command {
  return command
    .description('run a CDN node: a Helia peer in the main server\'s private network with a local-first gateway (settings are remembered in <data>/node.json)')
    .option('--data <dir>', 'data folder (env CIDCAST_NODE_DATA, default ./.cidcast-node)')
    .option('--name <name>', 'node name; the main server turns it into the node\'s DNS label (default: the host name)')
    .addOption(new Option('--mode <mode>', 'shared: serves anyone and is listed; local: loopback only, serves and is listed to its owner alone (default shared)').choices(['shared', 'local']))
    .option('--owner <user>', 'the main server\'s user who owns this node: a local node serves them alone (env CIDCAST_NODE_OWNER)')
    .option('--region <name>', 'where this node is, 1-32 of a-z, 0-9 and -: automatic placement spreads copies over regions; \'\' clears it (env CIDCAST_REGION)')
    .option('--tags <a,b,c>', 'free labels of this node, at most 8, each as a region; \'\' clears them (env CIDCAST_TAGS)')
    .option('--server <url>', 'the main server\'s HTTP URL, or its multiaddr ending in /p2p/<id> (env CIDCAST_SERVER, default http://127.0.0.1:8080)')
    .option('--swarm-key <file>', 'the main server\'s swarm.key, copied into the data folder (needed once)')
    .option('--listen <host:port>', 'gateway address (default 0.0.0.0:8081; 127.0.0.1:8081 in local mode)')
    .option('--p2p-listen <multiaddr>', 'libp2p address, repeatable (default /ip4/0.0.0.0/tcp/4002; loopback in local mode)', collect)
    .option('--url <url>', 'the URL viewers reach this node at (default: from --listen)')
    .addOption(new Option('--fallback <how>', 'on a miss: origin (proxy, verified), redirect, or peer (bitswap first) (default origin)').choices(['origin', 'redirect', 'peer']))
    .addOption(new Option('--pin-from <where>', 'pins fetch from: any (holders\' HTTP gateways, then the block stream and bitswap) or p2p (the block stream and bitswap only, inside the private network) (default any)').choices(['any', 'p2p']))
    .option('--quota <size>', 'most bytes of blocks kept, e.g. 50GiB (default: the free space of the data folder\'s disk)', size)
    .option('--cache-size <size>', 'most bytes kept from streams served by fallback, within the quota, e.g. 10GiB (env CIDCAST_CACHE_SIZE, default: half the quota)', size)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(runCdnNode)
}

/** Starts a CDN node with `opts`, prints its gateway URL (and its DNS name once registered), and stops it on SIGINT/SIGTERM. */
export async function runCdnNode (opts: NodeFlags): Promise<void> {
  // Idle RSS: V8 recompiles hot WebAssembly with TurboFan on a worker thread, and glibc keeps that compile's
  // ~12 MB zone in the thread's arena for good. Here the Wasm is undici's HTTP parser behind fetch(): the node's
  // first few calls to the main server were enough. A larger budget keeps it on Liftoff until it is really hot.
  setFlagsFromString(`--wasm-tiering-budget=${NODE_WASM_TIERING_BUDGET}`)
  // loaded here: Helia and libp2p cost what `cidcast`'s client verbs (and `cidcast-node --version`) should not pay
  const { startNode } = await import('./cdn-node.ts')
  let announced = false
  const onStatus = (status: { state: string, dnsName?: string }): void => {
    if (status.state !== 'registered' || announced) return
    announced = true
    process.stdout.write(`dns: ${status.dnsName ?? ''}\n`)
  }
  const node = await startNode({ dataDir: opts.data, name: opts.name, mode: opts.mode, owner: opts.owner, region: opts.region, tags: opts.tags, server: opts.server, swarmKeyFile: opts.swarmKey, listen: opts.listen, p2pListen: opts.p2pListen, url: opts.url, fallback: opts.fallback, pinFrom: opts.pinFrom, quotaBytes: opts.quota, cacheBytes: opts.cacheSize, logLevel: opts.logLevel, logFormat: opts.logFormat, onStatus })
  stopOnSignals(node.stop)
  process.stdout.write(`${node.url}\n`)
  const first = await node.firstAttempt()
  if (first.state === 'registered' || first.error == null) return
  // the main server is up but will not have this node: retrying cannot help
  if (first.error.name === 'PrivateNetworkRefusedError' || first.error.name === 'NodeRevokedError' || first.error.name === 'ControlVersionError') {
    await node.stop()
    fail(first.error)
  }
  process.stderr.write(`warning: not registered yet (${first.error.name}: ${first.error.message.split('\n')[0]}); serving what this node holds and retrying\n`)
}
