import { join } from 'node:path'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { placeClip } from '../core/metadata/helpers.ts'
import { bearer, login } from '../helpers/auth.ts'
import { startTestServer } from '../helpers/server.ts'
import { cidcast } from '../helpers/spawn.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * A viewer's library folders set from the CLI (issue 11, item 3: Jellyfin's "enabled folders"): `cidcast user add
 * --folder` and `cidcast user folders`, against a real main server whose watched folders added the media; the
 * viewer's own API calls then see only what lies inside their folders.
 */

interface Context {
  running: TestServer
  films: string
  tv: string
  /** Media ids by the folder they were found in. */
  ids: { films: string[], tv: string[] }
  removeLibrary: () => Promise<void>
}
const test = anyTest as TestFn<Context>

const FILES = {
  films: ['Alpha (2001).m4a', 'Gamma (2003).m4a'],
  tv: ['Show (2020)/Season 01/Show - S01E01.m4a']
}

test.before(async t => {
  const library = await tempDir('cidcast-user-folders-')
  const films = join(library.path, 'films')
  const tv = join(library.path, 'tv')
  const clip = await fixture('audio-only-8s')
  for (const name of FILES.films) await placeClip(clip, join(films, name))
  for (const name of FILES.tv) await placeClip(clip, join(tv, name))
  // the server's watched folders find the files themselves, as they would on a real install
  const running = await startTestServer({ library: [films, tv], metadata: { keys: {}, fetchImages: false } })
  const total = FILES.films.length + FILES.tv.length
  await waitFor(async () => await running.server.library.count() === total, 60_000, 'the watched folders\' media')
  await running.server.metadata.idle()
  // titles come from the paths: the films are Alpha and Gamma
  const ids = { films: [] as string[], tv: [] as string[] }
  for (const media of await running.server.library.list({ limit: 100 })) ids[/^(Alpha|Gamma)$/.test(media.title) ? 'films' : 'tv'].push(media.id)
  if (ids.films.length !== FILES.films.length) throw new Error(`films found: ${ids.films.length}`)
  Object.assign(t.context, { running, films, tv, ids, removeLibrary: library.remove })
})

test.after.always(async t => {
  await t.context.running?.stop()
  await t.context.removeLibrary?.()
})

/** The ids of the library as a user's own API call lists them. */
async function visibleIds (t: { context: Context }, token: string): Promise<string[]> {
  const res = await fetch(`${t.context.running.server.url}/api/v1/media?limit=100`, { headers: bearer(token) })
  if (res.status !== 200) throw new Error(`GET /api/v1/media answered ${res.status}`)
  const body = await res.json() as { items: Array<{ id: string }>, total: number }
  if (body.total !== body.items.length) throw new Error(`total ${body.total} for ${body.items.length} items`)
  return body.items.map(m => m.id).sort()
}

const sorted = (ids: string[]): string[] => [...ids].sort()

test.serial('user add --folder limits a new viewer: their own API calls list only the media inside the folder', async t => {
  const { running, films, ids } = t.context
  const url = running.server.url
  const added = await cidcast('user', 'add', 'vera', '--folder', `${films}/`, '--server', url)
  t.is(added.code, 0, added.stderr)
  t.is(added.stdout.split('\n')[0], `added vera (viewer, ${films})`, 'the folder as the server keeps it: no trailing slash')
  const password = /^password: (\S+)$/m.exec(added.stdout)?.[1] ?? ''
  const vera = await login(url, 'vera', password)
  t.deepEqual(await visibleIds(t, vera), sorted(ids.films))
  const hidden = await fetch(`${url}/api/v1/media/${ids.tv[0]}`, { headers: bearer(vera) })
  t.is(hidden.status, 404, 'a media outside the folder is not found')
  t.deepEqual((await running.server.accounts.getUser('vera')).folders, [films])
})

test.serial('user folders prints a viewer\'s folders, replaces them, and --all lifts the limit', async t => {
  const { running, films, tv, ids } = t.context
  const url = running.server.url
  await running.server.accounts.addUser({ name: 'walt', role: 'viewer', password: 'walt-password', folders: [films] })
  const walt = await login(url, 'walt', 'walt-password')

  const shown = await cidcast('user', 'folders', 'walt', '--server', url)
  t.is(shown.code, 0, shown.stderr)
  t.is(shown.stdout, `${films}\n`)

  const both = await cidcast('user', 'folders', 'walt', tv, films, '--server', url)
  t.is(both.code, 0, both.stderr)
  t.is(both.stdout, `folders of walt: ${tv}, ${films}\n`)
  t.is((await cidcast('user', 'folders', 'walt', '--server', url)).stdout, `${tv}\n${films}\n`, 'one folder a line')

  const onlyTv = await cidcast('user', 'folders', 'walt', tv, '--server', url)
  t.is(onlyTv.code, 0, onlyTv.stderr)
  t.deepEqual(await visibleIds(t, walt), sorted(ids.tv), 'the change applies to the viewer\'s next request')
  t.regex((await cidcast('user', 'ls', '--server', url)).stdout, new RegExp(`^walt\\tviewer\\t${tv.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\t`, 'm'))

  const all = await cidcast('user', 'folders', 'walt', '--all', '--server', url)
  t.is(all.code, 0, all.stderr)
  t.is(all.stdout, 'folders of walt: all folders\n')
  t.is((await cidcast('user', 'folders', 'walt', '--server', url)).stdout, 'all folders\n')
  t.deepEqual(await visibleIds(t, walt), sorted([...ids.films, ...ids.tv]))
})

test.serial('relative folders, unknown users and folders for an admin are refused with one line and a failing exit code', async t => {
  const { running, films } = t.context
  const url = running.server.url
  const oneLine = /^error: [A-Za-z]+Error: [^\n]+\n$/
  const refusals: Array<{ args: string[], says: RegExp }> = [
    { args: ['user', 'add', 'rel', '--folder', 'films'], says: /^error: InvalidArgumentError: "films" is not an absolute path: library folders are paths on the server's disk\n$/ },
    { args: ['user', 'folders', 'vera', `${films}`, './tv'], says: /"\.\/tv" is not an absolute path/ },
    { args: ['user', 'folders', 'nobody', films], says: /^error: AccountNotFoundError: no user "nobody"\n$/ },
    { args: ['user', 'folders', 'nobody'], says: /^error: AccountNotFoundError: no user "nobody"\n$/ },
    { args: ['user', 'add', 'boss', '--admin', '--folder', films], says: /^error: InvalidArgumentError: --folder limits viewers only: admins see every folder\n$/ },
    { args: ['user', 'folders', 'admin', films], says: /^error: InvalidRequestError: admins see every folder: library folders limit viewers only\n$/ },
    { args: ['user', 'folders', 'vera', '--all', films], says: /--all means every folder/ }
  ]
  for (const { args, says } of refusals) {
    const run = await cidcast(...args, '--server', url)
    t.is(run.code, 1, args.join(' '))
    t.regex(run.stderr, oneLine, args.join(' '))
    t.regex(run.stderr, says, args.join(' '))
    t.is(run.stdout, '', args.join(' '))
  }
  await t.throwsAsync(running.server.accounts.getUser('rel'), { name: 'AccountNotFoundError' }, 'a refused add adds nobody')
  await t.throwsAsync(running.server.accounts.getUser('boss'), { name: 'AccountNotFoundError' })
  t.deepEqual((await running.server.accounts.getUser('vera')).folders, [films], 'a refused change changes nothing')
  t.is((await cidcast('user', 'folders', 'admin', '--server', url)).stdout, 'all folders\n', 'an admin\'s folders can be read: all of them')
})

test('the users listing offers the watched library folders as suggestions for a viewer\'s folders', async t => {
  const { running, films, tv } = t.context
  const res = await fetch(`${running.server.url}/api/v1/users`, { headers: bearer(running.token) })
  t.is(res.status, 200)
  t.deepEqual((await res.json() as { libraryFolders: string[] }).libraryFolders, [films, tv])
})
