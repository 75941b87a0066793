import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { startTestServer } from '../helpers/server.ts'
import { cidcast } from '../helpers/spawn.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * `cidcast play`: a signed play URL on stdout alone, for players that take a URL (mpv, VLC, ffplay); it plays with no
 * other credential, and bad asks end in one line and a failing exit code.
 */

interface Context { running: TestServer, id: string }
const test = anyTest as TestFn<Context>

test.before(async t => {
  const running = await startTestServer()
  const media = await running.server.addMedia(await fixture('audio-only-8s'))
  Object.assign(t.context, { running, id: media.id })
})

test.after.always(async t => { await t.context.running?.stop() })

test('cidcast play prints a signed URL alone on stdout, which plays with no other credential until it expires', async t => {
  const { running, id } = t.context
  const run = await cidcast('play', id, '--ttl', '120', '--server', running.server.url)
  t.is(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n')
  t.is(lines.length, 1)
  const url = new URL(lines[0])
  t.is(url.origin + url.pathname, `${running.server.url}/media/${id}/master.m3u8`)
  const expires = /^expires (\S+)$/m.exec(run.stderr)?.[1] ?? ''
  const left = Date.parse(expires) - Date.now()
  t.true(left > 100_000 && left <= 120_000, `expires in ${left} ms`)
  const master = await fetch(url)
  t.is(master.status, 200)
  const variant = (await master.text()).split('\n').find(line => line.endsWith(`token=${url.searchParams.get('token') ?? ''}`) && !line.startsWith('#'))
  t.truthy(variant, 'the master playlist carries the token to its variants')
  t.is((await fetch(new URL(variant ?? '', url))).status, 200)
  t.is((await fetch(`${url.origin}${url.pathname}`)).status, 401, 'without the token it is refused')
})

test('cidcast play refuses an unknown media, an unknown node and a bad ttl in one line', async t => {
  const { running, id } = t.context
  const cases: Array<[string[], RegExp]> = [
    [['play', 'fedcba9876543210'], /MediaNotFoundError|not found/i],
    [['play', id, '--node', 'nowhere'], /NodeNotFoundError|no node/i],
    [['play', id, '--ttl', 'soon'], /seconds/],
    [['play', id, '--ttl', '0'], /ttl must be/]
  ]
  for (const [args, message] of cases) {
    const run = await cidcast(...args, '--server', running.server.url)
    t.not(run.code, 0, args.join(' '))
    t.regex(run.stderr, message, args.join(' '))
    t.is(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
    t.is(run.stdout, '')
  }
})
