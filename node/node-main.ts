import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { isSea } from 'node:sea'
import { pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { SWARM_KEY_FILE } from '../core/config/index.ts'
import { CONTROL_PROTOCOL, ORDERS_PROTOCOL } from '../core/control/index.ts'
import { createLogger } from '../core/logger.ts'
import { CIDCAST_VERSION } from '../core/version.ts'
import { collect } from '../client/commands/options.ts'
import { fail, logFormatOption, logLevelOption, size } from './command-line.ts'
import { joinNetwork } from './join.ts'
import { nodeCommand, runCdnNode } from './node-command.ts'
import { addServiceCommands } from './service.ts'
import { defaultNodeFolder, startSetup } from './setup.ts'
import type { NodeFlags } from './node-command.ts'

/*
 * `cidcast-node`: the CDN node as a program of its own, the entry of the single executable (`npm run package`,
 * node/sea/). With no verb it runs the node with exactly the flags of `cidcast node`, its data folder by default the
 * platform's (defaultNodeFolder); started with no arguments at all and no node there yet, it serves the setup page
 * instead (node/setup.ts) and runs the node once that is done. `join TOKEN` joins with an invitation's token and runs
 * the node; `service` installs it as a systemd service (node/service.ts). The version is core/version.ts's constant
 * (kept equal to package.json's by a test): nothing is read from outside the file.
 */

/** `cidcast-node --version`: the package's version and the protocols this node speaks. */
export const NODE_VERSION_LINE = `cidcast-node ${CIDCAST_VERSION} (control ${CONTROL_PROTOCOL}, orders ${ORDERS_PROTOCOL})`

/** The `cidcast-node` command line. */
export function buildNodeProgram (): Command {
  const program = new Command('cidcast-node')
    .version(NODE_VERSION_LINE, '-V, --version', 'print the version and the protocol versions')
    // the node's options belong to the program, a verb's after it to the verb: `cidcast-node VERB --data DIR`
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => { write(text) } })
  const data = (): string => process.env.CIDCAST_NODE_DATA ?? defaultNodeFolder()
  nodeCommand(program)
  const dataOption = program.options.find(option => option.long === '--data')
  if (dataOption != null) dataOption.description = `data folder (env CIDCAST_NODE_DATA, default ${data()}; with no arguments and no node there yet: the setup page)`
  // the default action: the platform's data folder unless told, and the setup page for a first start with no arguments
  program.action(async (opts: NodeFlags) => {
    const folder = opts.data ?? data()
    if (program.args.length === 0 && process.argv.length <= 2 && !await exists(join(folder, SWARM_KEY_FILE))) {
      await runSetup(folder)
      return
    }
    await runCdnNode({ ...opts, data: folder })
  })
  program.command('join')
    .description('join a main server\'s network with the token its admin gave you (cidcast nodes invite), then run the node')
    .argument('<token>', 'the join token (ccj_...)')
    .option('--data <dir>', 'data folder (env CIDCAST_NODE_DATA, default: the platform\'s data folder)')
    .option('--listen <host:port>', 'gateway address (default 0.0.0.0:8081; 127.0.0.1:8081 in local mode)')
    .option('--p2p-listen <multiaddr>', 'libp2p address, repeatable (default /ip4/0.0.0.0/tcp/4002; loopback in local mode)', collect)
    .option('--quota <size>', 'most bytes of blocks kept, e.g. 50GiB (default: the free space of the data folder\'s disk)', size)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (token: string, opts: Pick<NodeFlags, 'data' | 'listen' | 'p2pListen' | 'quota' | 'logLevel' | 'logFormat'>) => {
      const folder = opts.data ?? data()
      const joined = await joinNetwork(token, folder, createLogger({ level: 'warn' }))
      process.stdout.write(`joined ${joined.server} as ${joined.peerId}\n`)
      await runCdnNode({ data: folder, server: joined.server, name: joined.name ?? undefined, mode: joined.mode, owner: joined.owner ?? undefined, listen: opts.listen, p2pListen: opts.p2pListen, quota: opts.quota, logLevel: opts.logLevel, logFormat: opts.logFormat })
    })
  addServiceCommands(program, { defaultData: data() })
  return program
}

/** Serves the setup page until the owner has joined, then runs the node as they chose. */
async function runSetup (defaultFolder: string): Promise<void> {
  const setup = await startSetup(createLogger({ level: 'warn' }), { defaultFolder })
  process.stdout.write(`set this node up at ${setup.url}\n`)
  const stop = (): void => { void setup.close().finally(() => process.exit(0)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const choice = await setup.done
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  process.stdout.write(`joined ${choice.server} as ${choice.peerId}; data in ${choice.data}\n`)
  await runCdnNode({ data: choice.data, server: choice.server, name: choice.name ?? undefined, mode: choice.mode, owner: choice.owner ?? undefined, quota: choice.quotaBytes })
}

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}

/** Entry point: parse argv, turn any error into one line and an exit code. */
export async function main (argv = process.argv): Promise<void> {
  try {
    await buildNodeProgram().parseAsync(argv)
  } catch (err) {
    fail(err)
  }
}

// run as a program: the single executable, or `node --import=tsx node/node-main.ts` (no top-level await: the
// executable's bundle is CommonJS)
if (isSea() || import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main()
