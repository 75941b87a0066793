import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { masterProfiles } from '../../core/hls/index.ts'
import { bearer, rememberToken } from '../helpers/auth.ts'
import { startChild } from '../helpers/child.ts'
import { walkHls } from '../helpers/hls-walk.ts'
import { cidcast } from '../helpers/spawn.ts'
import { streamTokenFromKeyFile, withToken } from '../helpers/stream-url.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { BenchChild } from '../helpers/child.ts'
import type { WalkedFile } from '../helpers/hls-walk.ts'
import type { StartNodeOptions } from '../../node/cdn-node.ts'

/*
 * Issue 12, item 2: a node that holds a title plays it with the main server gone. Everything in its own process: the
 * main server, two CDN nodes and the CLI. The nodes pin the title with `cidcast pin add --wait` (the main server
 * makes the renditions first) and nobody plays anything through them; then the main server stops for good, the nodes
 * restart, and they serve the title from their pins alone.
 */

const SERVER_PROCESS = fileURLToPath(new URL('../helpers/server-process.ts', import.meta.url))
const NODE_PROCESS = fileURLToPath(new URL('../e2e/replica-node.ts', import.meta.url))

interface MediaView {
  renditions: Array<{ profile: string, root: string | null }>
}

/** A CDN node in a process of its own, registered with the main server at `server` when it is up. */
async function nodeProcess (dir: string, name: string, server: string): Promise<BenchChild<{ url: string }>> {
  const options: StartNodeOptions = { dataDir: join(dir, name), swarmKeyFile: join(dir, 'server', 'swarm.key'), server, name, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', minBackoffMs: 100, maxBackoffMs: 1000 }
  return await startChild<{ url: string }>(NODE_PROCESS, [JSON.stringify(options)])
}

/** The path of a walked URL, without the token. */
function pathOf (file: WalkedFile): string {
  return new URL(file.url).pathname
}

test('a node that pinned a title plays every playlist, init and segment of it from its pins after a restart with the main server down; a rendition unpinned is left out of its master playlist', async t => {
  const dir = await tempDir('cidcast-held-media-')
  const stops: Array<() => Promise<void>> = []
  try {
    const serverDir = join(dir.path, 'server')
    const server = await startChild<{ url: string, token: string }>(SERVER_PROCESS, [serverDir])
    stops.push(server.stop)
    const { url } = server.ready
    rememberToken(url, server.ready.token)
    const nodes = [await nodeProcess(dir.path, 'alpha', url), await nodeProcess(dir.path, 'beta', url)]
    stops.push(...nodes.map(n => n.stop))

    const added = await cidcast('add', await fixture('odd-854x480-6s'), '--server', url)
    t.is(added.code, 0, added.stderr)
    const id = /^added ([0-9a-f]{16}) /m.exec(added.stdout)?.[1] ?? ''
    // alpha holds the whole title, beta all of it but the best rendition; nothing is transcoded before the pins
    for (const name of ['alpha', 'beta']) {
      const pinned = await cidcast('pin', 'add', id, '--node', name, '--wait', '--timeout', '180', '--server', url)
      t.is(pinned.code, 0, `${pinned.stdout}\n${pinned.stderr}`)
    }
    const media = await (await fetch(`${url}/api/v1/media/${id}`, { headers: bearer(server.ready.token) })).json() as MediaView
    const profiles = media.renditions.map(r => r.profile)
    t.true(profiles.length >= 2, `a ladder of several renditions (${profiles.join(', ')})`)
    const [best, ...rest] = media.renditions
    const removed = await cidcast('pin', 'rm', best.root ?? '', '--node', 'beta', '--wait', '--server', url)
    t.is(removed.code, 0, `${removed.stdout}\n${removed.stderr}`)

    // the title as the main server serves it, under a stream token the nodes check offline
    const token = await streamTokenFromKeyFile(serverDir, id)
    const master = `/media/${id}/master.m3u8`
    const before = await walkHls(withToken(url + master, token))
    t.true(before.every(f => f.status === 200), JSON.stringify(before.filter(f => f.status !== 200).map(pathOf)))
    t.deepEqual(masterProfiles(before[0].body.toString()), profiles, 'the main server lists every rendition')
    const expected = new Map(before.map(f => [pathOf(f), f.body]))
    for (const name of ['alpha', 'beta']) {
      await t.throwsAsync(stat(join(dir.path, name, 'media-cache')), undefined, `nothing was played through ${name}`)
    }

    await server.stop()
    const restarted = []
    for (const [i, name] of ['alpha', 'beta'].entries()) {
      await nodes[i].stop()
      const node = await nodeProcess(dir.path, name, url)
      stops.push(node.stop)
      restarted.push(node)
    }
    const [alpha, beta] = restarted

    const fromAlpha = await walkHls(withToken(alpha.ready.url + master, token))
    t.deepEqual(fromAlpha.map(pathOf), before.map(pathOf), 'alpha serves every file the main server did')
    for (const file of fromAlpha) {
      t.is(file.status, 200, pathOf(file))
      t.is(file.source, 'local', pathOf(file))
      t.true(file.body.equals(expected.get(pathOf(file)) as Buffer), `${pathOf(file)}: the bytes the main server served`)
    }

    const fromBeta = await walkHls(withToken(beta.ready.url + master, token))
    t.deepEqual(masterProfiles(fromBeta[0].body.toString()), rest.map(r => r.profile), 'beta lists only the renditions it holds')
    t.true(fromBeta.length > rest.length * 3)
    for (const file of fromBeta) {
      t.is(file.status, 200, pathOf(file))
      t.is(file.source, 'local', pathOf(file))
      if (!pathOf(file).endsWith('master.m3u8')) t.true(file.body.equals(expected.get(pathOf(file)) as Buffer), pathOf(file))
    }
    const unheld = await fetch(withToken(`${beta.ready.url}/media/${id}/${best.profile}/index.m3u8`, token))
    t.is(unheld.status, 502)
    t.like(await unheld.json(), { error: 'OriginUnavailableError' }, 'a rendition beta does not hold: the main server is unreachable')
    const record = JSON.parse(await readFile(join(dir.path, 'beta', 'held-media.json'), 'utf8')) as { media: Record<string, { renditions: Record<string, string> }> }
    t.deepEqual(Object.keys(record.media[id].renditions).sort(), rest.map(r => r.profile).sort(), 'the unpinned rendition is forgotten')
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    await dir.remove()
  }
})
