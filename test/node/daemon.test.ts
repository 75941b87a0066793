import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { CLI, runNode } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { Daemon } from '../helpers/spawn.ts'

const START = fileURLToPath(new URL('../../node/start.ts', import.meta.url))

function run (args: string[], env: Record<string, string> = {}): Daemon {
  return runNode(args, { CIDCAST_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', CIDCAST_LISTEN: '127.0.0.1:0', CIDCAST_DNS_LISTEN: '127.0.0.1:0', ...env })
}

async function urlOf (daemon: Daemon): Promise<string> {
  return await waitFor(() => /^(http:\/\/[0-9.:]+)$/m.exec(daemon.stdout())?.[1], 60_000, 'the server URL on stdout')
}

test('the server daemon prints its URL, refuses a second daemon on its folder, adds watched files and stops on SIGTERM', async t => {
  const dir = await tempDir()
  const library = join(dir.path, 'library')
  await mkdir(library)
  const daemon = run([CLI, 'server', '--data', join(dir.path, 'data'), '--library', library])
  try {
    const url = await urlOf(daemon)
    t.is((await (await fetch(`${url}/healthz`)).json()).status, 'ok')

    const second = run([CLI, 'server', '--data', join(dir.path, 'data')])
    t.not(await second.exited, 0)
    t.regex(second.stderr(), /DataFolderLockedError/)
    t.is(second.stderr().trim().split('\n').length, 1)

    await copyFile(await fixture('odd-854x480-6s'), join(library, 'dropped in.mp4'))
    const items = await waitFor(async () => {
      const list = await (await fetch(`${url}/api/v1/media`)).json() as { items: Array<{ title: string }> }
      return list.items.length > 0 ? list.items : undefined
    }, 30_000, 'the watched file to be added')
    t.is(items[0].title, 'dropped in')

    daemon.child.kill('SIGTERM')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
    await dir.remove()
  }
})

test('npm start on an empty data folder makes a sample video and prints where it plays', async t => {
  const dir = await tempDir()
  const daemon = run(['--import=tsx', START], { CIDCAST_DATA: join(dir.path, 'cidcast') })
  try {
    const play = await waitFor(() => /play:\s+(http:\/\/\S+)/.exec(daemon.stdout())?.[1], 120_000, 'the play URL')
    const { origin, hash } = new URL(play)
    const id = hash.replace('#/media/', '')
    const master = await fetch(`${origin}/media/${id}/master.m3u8`)
    t.is(master.status, 200)
    t.regex(await master.text(), /720p\/index\.m3u8/)
    const segment = await fetch(`${origin}/media/${id}/360p/0.m4s`)
    t.is(segment.status, 200)
    t.true((await segment.arrayBuffer()).byteLength > 1000)
    daemon.child.kill('SIGINT')
    t.is(await daemon.exited, 0)
  } finally {
    daemon.child.kill('SIGKILL')
    await dir.remove()
  }
})
