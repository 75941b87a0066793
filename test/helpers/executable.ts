import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { nodeBinariesDir } from '../../node/sea/node-binaries.ts'
import { packageNode } from '../../node/sea/package.ts'
import { parseTargets } from '../../node/sea/targets.ts'
import { daemonOf } from './spawn.ts'
import type { Daemon } from './spawn.ts'

/*
 * The CDN node's single executables for tests: built by `packageNode` into the user's cache folder (not dist-bin/,
 * which is the developer's), where an executable whose inputs did not change is kept, so a run pays for the bundle
 * (seconds) and not for the Node binaries' download and injection.
 */

/** Where tests keep their executables: `~/.cache/cidcast/executables`, beside the Node binaries. */
export const TEST_EXECUTABLES_DIR = join(dirname(nodeBinariesDir()), 'executables')

/** The executables of `targets` (comma-separated; every target when empty), by target name. */
export async function testExecutables (targets = '', log?: (line: string) => void): Promise<Map<string, string>> {
  const built = await packageNode({ targets: parseTargets(targets), outDir: TEST_EXECUTABLES_DIR, log })
  return new Map(built.map(made => [made.target, made.path]))
}

/** Runs `file ARGS` with exactly `env` (no variable of the test's own) in `cwd`, collecting its output. */
export function runExecutable (file: string, args: string[], options: { cwd: string, env: Record<string, string> }): Daemon {
  return daemonOf(spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] }))
}
