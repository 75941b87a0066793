import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sha256Hex } from './asset-cache.ts'
import { bundleNode } from './bundle.ts'
import { MANIFEST_ASSET, UI_HLS_JS, UI_PUBLIC } from './embedded.ts'
import { nodeBinary } from './node-binaries.ts'
import type { NodeBundle } from './bundle.ts'
import type { EmbeddedManifest } from './embedded.ts'
import type { NodeBinaryOptions } from './node-binaries.ts'
import type { Target } from './targets.ts'

/*
 * `npm run package`: the CDN node as one executable file per platform, with Node's single executable applications.
 * One bundle (node/sea/bundle.ts) serves every target; per target, a SEA blob (written by the running Node: no
 * snapshot and no code cache, which are specific to the Node that makes them) holds it with the target's
 * classic-level prebuild and the web UI as assets, and postject injects the blob into a copy of the target's Node
 * binary of the same version (node/sea/node-binaries.ts). An executable whose inputs did not change is kept as it is.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const require = createRequire(import.meta.url)
/** The fuse Node looks for to know a blob was injected (Node's single executable applications documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
/** Changes when this file changes what it puts into an executable, so older builds are not taken for current. */
const LAYOUT = 2

/** What `packageNode` builds and where. */
export interface PackageOptions {
  targets: Target[]
  /** Folder of the executables. @default dist-bin/ in the project */
  outDir?: string
  /** Where the Node binaries come from and are kept. */
  binaries?: NodeBinaryOptions
  log?: (line: string) => void
}

/** One executable built (or found unchanged). */
export interface PackagedExecutable {
  target: string
  path: string
  bytes: number
  /** True when an executable of the same inputs was already there. */
  reused: boolean
}

/** `dist-bin/` in the project. */
export const DIST_BIN = join(ROOT, 'dist-bin')

/** The file name of `target`'s executable, e.g. `cidcast-node-linux-x64`. */
export function executableName (target: Pick<Target, 'name'>): string {
  return `cidcast-node-${target.name}`
}

/** The web UI's files as assets: the client's public folder, and hls.js beside it. */
async function uiFiles (): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  const publicDir = join(ROOT, 'client', 'public')
  for (const entry of await readdir(publicDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    files.set(`${UI_PUBLIC}/${relative(publicDir, path).split('\\').join('/')}`, path)
  }
  files.set(UI_HLS_JS, join(dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js'))
  return new Map([...files].sort(([a], [b]) => a < b ? -1 : 1))
}

/** The SEA config of one target: its assets, and the manifest that names them. */
async function seaAssets (target: Target, work: string, ui: Map<string, string>): Promise<{ assets: Record<string, string>, manifest: EmbeddedManifest }> {
  const addonPath = join(dirname(require.resolve('classic-level/package.json')), target.classicLevelPrebuild)
  const assets: Record<string, string> = { [`addons/${target.name}/classic-level.node`]: addonPath }
  const hashes: string[] = []
  const files: Record<string, string> = {}
  for (const [path, source] of ui) {
    files[path] = `ui/${path}`
    assets[`ui/${path}`] = source
    hashes.push(`${path}\0${sha256Hex(await readFile(source))}`)
  }
  const manifest: EmbeddedManifest = {
    addons: { 'classic-level': { asset: `addons/${target.name}/classic-level.node`, sha256: sha256Hex(await readFile(addonPath)) } },
    ui: { hash: sha256Hex(Buffer.from(hashes.join('\n'))), files }
  }
  const manifestPath = join(work, `${target.name}-manifest.json`)
  await writeFile(manifestPath, JSON.stringify(manifest))
  assets[MANIFEST_ASSET] = manifestPath
  return { assets, manifest }
}

/** Runs postject (its own process: it prints LIEF's warnings about Node's ELF notes, shown only if it fails). */
async function inject (binary: string, blob: string): Promise<void> {
  const cli = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js')
  try {
    await promisify(execFile)(process.execPath, [cli, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { maxBuffer: 16 * 1024 * 1024 })
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string, stdout?: string }
    throw new Error(`postject failed on ${binary}: ${[stderr, stdout].join('\n').trim().split('\n').slice(-5).join(' / ')}`)
  }
}

/** Builds one target's executable into `outDir`, unless one of the same inputs is there. */
async function packageTarget (target: Target, bundle: NodeBundle & { path: string }, ui: Map<string, string>, work: string, options: PackageOptions & { outDir: string }): Promise<PackagedExecutable> {
  const path = join(options.outDir, executableName(target))
  const keyFile = `${path}.inputs`
  const { assets, manifest } = await seaAssets(target, work, ui)
  const key = sha256Hex(Buffer.from(JSON.stringify({ layout: LAYOUT, node: process.version, target: target.name, bundle: sha256Hex(bundle.code), manifest })))
  const built = await stat(path).catch(() => undefined)
  if (built != null && await readFile(keyFile, 'utf8').catch(() => '') === key) return { target: target.name, path, bytes: built.size, reused: true }

  const nodePath = await nodeBinary(target, { log: options.log, ...options.binaries })
  const config = join(work, `${target.name}-sea-config.json`)
  const blob = join(work, `${target.name}.blob`)
  await writeFile(config, JSON.stringify({
    main: bundle.path,
    output: blob,
    disableExperimentalSEAWarning: true,
    // specific to the Node that writes the blob (this one, on this machine's architecture)
    useSnapshot: false,
    // the bundle's bytecode as this Node compiles it, for this machine's own target only (another architecture's V8
    // would reject it): V8 reads it instead of parsing the 2.4 MB script, a compile that took ~15 MB of parser memory
    // at its peak which glibc kept afterwards (idle RSS 87 -> 80 MB)
    useCodeCache: target.host,
    assets
  }))
  await promisify(execFile)(process.execPath, ['--experimental-sea-config', config], { cwd: work })
  // made beside its final place and renamed: a build stopped half-way, or another one at once, leaves no broken file
  const partial = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const injected = join(work, `${target.name}.injected`)
  try {
    await copyFile(nodePath, injected)
    await inject(injected, blob)
    // copied, not moved: postject writes the whole binary in one write(), which on Linux 6.x leaves it in the page
    // cache as large folios, and a process running it then maps whole folios: +20 MB RSS (measured: a hello-world
    // executable 66 MB against 47 MB for plain node) until the cache is dropped. A copy is cached as a download is.
    await copyFile(injected, partial)
    await chmod(partial, 0o755)
    await rename(partial, path)
  } catch (err) {
    await rm(partial, { force: true })
    throw err
  } finally {
    await rm(injected, { force: true })
  }
  await writeFile(keyFile, key)
  return { target: target.name, path, bytes: (await stat(path)).size, reused: false }
}

/** Builds the CDN node's executable for each of `options.targets`. */
export async function packageNode (options: PackageOptions): Promise<PackagedExecutable[]> {
  const outDir = options.outDir ?? DIST_BIN
  await mkdir(outDir, { recursive: true })
  const work = await mkdtemp(join(tmpdir(), 'cidcast-package-'))
  try {
    const bundle = await bundleNode()
    const bundlePath = join(work, 'cidcast-node.cjs')
    await writeFile(bundlePath, bundle.code)
    options.log?.(`bundled ${bundle.inputs.length} modules (${(bundle.code.byteLength / 1e6).toFixed(1)} MB)`)
    const ui = await uiFiles()
    const built: PackagedExecutable[] = []
    for (const target of options.targets) {
      const made = await packageTarget(target, { ...bundle, path: bundlePath }, ui, work, { ...options, outDir })
      const shown = relative(process.cwd(), made.path)
      options.log?.(`${shown.startsWith('..') ? made.path : shown}: ${(made.bytes / 1e6).toFixed(1)} MB${made.reused ? ' (unchanged)' : ''}`)
      built.push(made)
    }
    return built
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
