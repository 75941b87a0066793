import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import test from 'ava'
import { cidcastWith, ROOT, runNode } from '../helpers/spawn.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { CliRun } from '../helpers/spawn.ts'

/*
 * What a program loads is what it pays (PITFALLS: an idle Helia peer is ~140 MB of imports). The client verbs and
 * `init` start in a second because they load none of the daemons' parts; the CDN node leaves out the catalog and the
 * media room. An entry file loads its whole room, so one import through the wrong entry would undo this silently:
 * these tests run the programs with a preloaded hook that records every module they load.
 */

const RECORDER = fileURLToPath(new URL('../helpers/record-loads.js', import.meta.url))
const ROOT_URL = pathToFileURL(ROOT).href

/** Loaded by the daemons only: Helia, libp2p and its transports, the stores, TypeORM and SQLite, the ffmpeg packages. */
const DAEMON_PACKAGES = ['helia', '@helia', 'libp2p', '@libp2p/tcp', '@libp2p/identify', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', 'blockstore-fs', 'datastore-level', 'typeorm', 'better-sqlite3', '@ffmpeg-installer', '@ffprobe-installer']
/** Rooms of core/ only daemons run (the CLI takes types from some of them, which are erased). */
const DAEMON_ROOMS = ['net', 'media', 'catalog', 'metadata', 'edge', 'replication', 'routing', 'dns']

/** The parts among those only the main server runs. */
const MAIN_SERVER_ONLY = ['typeorm', 'better-sqlite3', '@ffmpeg-installer', '@ffprobe-installer'].map(pkg => `node_modules/${pkg}/`)
  .concat(['catalog', 'media', 'metadata', 'replication', 'dns'].map(room => `core/${room}/`))

/** The modules a process loaded: project files relative to the root, packages as `node_modules/<name>/...`. */
async function loadedBy (run: (env: Record<string, string>) => Promise<unknown>): Promise<string[]> {
  const dir = await tempDir()
  try {
    const out = join(dir.path, 'loaded.txt')
    await run({ RECORD_LOADS_TO: out })
    return (await readFile(out, 'utf8')).split('\n').flatMap(url => {
      // packages by name wherever node_modules is (a link may resolve it outside the root)
      const packages = url.lastIndexOf('/node_modules/')
      if (url.startsWith('file:') && packages >= 0) return [url.slice(packages + 1)]
      return url.startsWith(ROOT_URL) ? [url.slice(ROOT_URL.length)] : []
    })
  } finally {
    await dir.remove()
  }
}

/** Which of DAEMON_PACKAGES and DAEMON_ROOMS `loaded` holds a file of, each named once. */
function daemonParts (loaded: string[]): string[] {
  const parts = [...DAEMON_PACKAGES.map(pkg => `node_modules/${pkg}/`), ...DAEMON_ROOMS.map(room => `core/${room}/`)]
  return parts.filter(part => loaded.some(file => file.startsWith(part)))
}

/** Runs `cidcast ARGS` from the sources with the recorder; its result and what it loaded. */
async function cidcastLoading (...args: string[]): Promise<{ run: CliRun, loaded: string[] }> {
  let run: CliRun | undefined
  const loaded = await loadedBy(async env => { run = await cidcastWith({ nodeArgs: [`--import=${RECORDER}`], env }, ...args) })
  if (run == null) throw new Error('cidcast did not run')
  return { run, loaded }
}

for (const args of [['--help'], ['ls', '--help'], ['ls', '--server', 'http://127.0.0.1:1'], ['nodes', '--server', 'http://127.0.0.1:1']]) {
  test(`cidcast ${args.join(' ')} loads no daemon part: no Helia, libp2p, TypeORM, SQLite or ffmpeg glue`, async t => {
    const { run, loaded } = await cidcastLoading(...args)
    t.is(run.code, args.includes('--help') ? 0 : 1, run.stderr)
    // the recorder saw the CLI itself, so an empty list cannot pass for a light one
    t.true(loaded.includes('node/cli.ts'))
    t.true(loaded.some(file => file.startsWith('node_modules/commander/')))
    t.deepEqual(daemonParts(loaded), [])
  })
}

test('cidcast init writes the swarm key without loading the private network\'s machinery', async t => {
  const dir = await tempDir()
  t.teardown(dir.remove)
  const { run, loaded } = await cidcastLoading('init', '--data', join(dir.path, 'data'))
  t.is(run.code, 0, run.stderr)
  t.true(loaded.includes('core/config/swarm-key.ts'))
  t.deepEqual(daemonParts(loaded), [])
})

test('a CDN node loads its peer but not the catalog, TypeORM, SQLite or the main server\'s media room', async t => {
  const loaded = await loadedBy(async env => {
    const child = runNode(['--import=tsx', `--import=${RECORDER}`, '--input-type=module', '-e', 'await import("./node/cdn-node.ts")'], env)
    const code = await child.exited
    if (code !== 0) throw new Error(`importing node/cdn-node.ts failed (${code}): ${child.stderr()}`)
  })
  t.true(loaded.includes('core/net/peer.ts'))
  t.true(loaded.some(file => file.startsWith('node_modules/helia/')))
  t.true(loaded.includes('core/hls/names.ts'))
  t.deepEqual(daemonParts(loaded).filter(part => MAIN_SERVER_ONLY.includes(part)), [])
})
