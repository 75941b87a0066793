import { isSea } from 'node:sea'
import { pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { CONTROL_PROTOCOL, ORDERS_PROTOCOL } from '../core/control/index.ts'
import { CIDCAST_VERSION } from '../core/version.ts'
import { fail } from './command-line.ts'
import { nodeCommand } from './node-command.ts'

/*
 * `cidcast-node`: the CDN node as a program of its own, the entry of the single executable (`npm run package`,
 * node/sea/). With no verb it runs the node with exactly the flags of `cidcast node`; verbs are added with
 * `program.command(...)`. The version is core/version.ts's constant (kept equal to package.json's by a test): nothing
 * is read from outside the file.
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
  return nodeCommand(program)
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
