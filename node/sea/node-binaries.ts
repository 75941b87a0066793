import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import type { Target } from './targets.ts'

/*
 * The Node binary an executable is made from: the target platform's `node-<os>-<arch>` package of the same version as
 * the Node running the build (the one that writes the blob), from the npm registry. Downloaded once, its tarball
 * checked against the registry's sha512 integrity, and kept in the user's cache folder for later builds and CI runs.
 */

/** The registry's answer or the tarball was not what it should be. */
export class NodeBinaryError extends Error {
  static readonly code = 'NodeBinaryError'
  override readonly name = 'NodeBinaryError'
}

/** Where the downloaded binaries are kept: `$XDG_CACHE_HOME/cidcast/node-binaries`, else `~/.cache/cidcast/node-binaries`. */
export function nodeBinariesDir (env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME
  return join(xdg != null && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'cidcast', 'node-binaries')
}

/** How `nodeBinary` finds and keeps binaries. */
export interface NodeBinaryOptions {
  /** Node's version without the `v`. @default the running Node's */
  version?: string
  /** The registry's URL (npm sets `npm_config_registry` for scripts). @default https://registry.npmjs.org/ */
  registry?: string
  /** @default nodeBinariesDir() */
  cacheDir?: string
  log?: (line: string) => void
}

const DOWNLOAD_TIMEOUT_MS = 10 * 60_000

/** The path of `target`'s Node binary of `version`, downloaded into the cache first when it is not there. */
export async function nodeBinary (target: Target, options: NodeBinaryOptions = {}): Promise<string> {
  const version = options.version ?? process.version.slice(1)
  const cacheDir = options.cacheDir ?? nodeBinariesDir()
  const path = join(cacheDir, `${target.nodePackage}-${version}`, 'node')
  if ((await stat(path).catch(() => undefined))?.isFile() === true) return path

  const registry = (options.registry ?? process.env.npm_config_registry ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/')
  const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)
  const packument = await fetch(`${registry}${target.nodePackage}/${version}`, { signal })
  if (!packument.ok) throw new NodeBinaryError(`${target.nodePackage}@${version}: the registry answered ${packument.status}`)
  const { dist } = await packument.json() as { dist?: { tarball?: string, integrity?: string } }
  const integrity = /^sha512-([A-Za-z0-9+/=]+)$/.exec(dist?.integrity ?? '')?.[1]
  if (dist?.tarball == null || integrity == null) throw new NodeBinaryError(`${target.nodePackage}@${version}: the registry gave no tarball with a sha512 integrity`)

  options.log?.(`downloading ${dist.tarball}`)
  await mkdir(cacheDir, { recursive: true })
  const work = await mkdtemp(join(cacheDir, `.${target.nodePackage}-`))
  try {
    const tarball = join(work, 'package.tgz')
    const res = await fetch(dist.tarball, { signal })
    if (!res.ok || res.body == null) throw new NodeBinaryError(`${dist.tarball}: ${res.status}`)
    const hash = createHash('sha512')
    const hashing = new Transform({ transform (chunk: Buffer, _encoding, done) { hash.update(chunk); done(null, chunk) } })
    await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), hashing, createWriteStream(tarball))
    if (hash.digest('base64') !== integrity) throw new NodeBinaryError(`${dist.tarball} does not match the registry's integrity: not used`)
    await promisify(execFile)('tar', ['-xzf', tarball, '-C', work, target.nodeBinary])
    // renamed into place whole: a build that stops half-way leaves nothing a later one would take for a binary
    await mkdir(join(path, '..'), { recursive: true })
    const ready = `${path}.${randomBytes(4).toString('hex')}.tmp`
    await rename(join(work, target.nodeBinary), ready)
    await rename(ready, path)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return path
}
