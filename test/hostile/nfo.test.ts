import { execFile } from 'node:child_process'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import anyTest from 'ava'
import { fixture } from '../../fixtures/media.ts'
import { catalogProbe, runCase, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe, HostileTarget } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile NFO sidecars (Kodi XML next to a media file, read when it is added): entity bombs, external entities,
 * DTDs, bad encodings, huge files, a FIFO, a symlink to a secret. The media is added (201) as if there were no
 * NFO: its title comes from the file name, nothing of a named file is read into the catalog, no entity expands,
 * and the add never hangs. A title with markup in a good NFO is kept as text and answered as JSON.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, target: HostileTarget, clip: Buffer }>

test.before(async t => {
  const main = await startTestServer()
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const target = { url: main.server.url, tokens: { admin: main.token }, snapshot: serverSnapshot(join(main.dir, 'data'), probe), secrets: [main.dir] }
  t.context = { main, probe, target, clip: await readFile(await fixture('h264-aac-10s')) }
})

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

const lol = (depth: number): string => {
  let entities = '<!ENTITY l0 "lollollollollollollollollollol">'
  for (let i = 1; i <= depth; i++) entities += `<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`
  return `<?xml version="1.0"?><!DOCTYPE movie [${entities}]><movie><title>&l${depth};</title></movie>`
}

/** How a case writes its sidecar at `path`. */
type Sidecar = (path: string, dir: string) => Promise<void>
const text = (content: string | Buffer): Sidecar => async path => { await writeFile(path, content) }

const HOSTILE: Array<[string, Sidecar]> = [
  ['a billion-laughs entity bomb', text(lol(9))],
  ['an external entity naming /etc/passwd (XXE)', text('<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><movie><title>&xxe;</title></movie>')],
  ['a parameter entity fetching a DTD', text('<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY % dtd SYSTEM "http://127.0.0.1:9/evil.dtd">%dtd;]><movie><title>x</title></movie>')],
  ['an external DTD', text('<!DOCTYPE movie SYSTEM "file:///etc/shadow"><movie><title>dtd</title></movie>')],
  ['invalid UTF-8', text(Buffer.from([0x3c, 0x6d, 0x6f, 0x76, 0x69, 0x65, 0x3e, 0xff, 0xfe, 0xc0, 0x80, 0x3c]))],
  ['UTF-32 with a BOM', text(Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('<movie><title>x</title></movie>', 'utf16le')]))],
  ['a file of 8 MB', text(`<movie><title>${'x'.repeat(8 * 1024 * 1024)}</title></movie>`)],
  ['nesting 100,000 deep', text(`<movie>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</movie>`)],
  ['a symlink to /etc/passwd', async path => { await symlink('/etc/passwd', path) }],
  ['a FIFO nobody writes to', async path => { await promisify(execFile)('mkfifo', [path]) }],
  ['a folder', async path => { await mkdir(path) }],
  ['a symlink loop', async (path, dir) => { await symlink(join(dir, 'loop.nfo'), path); await symlink(path, join(dir, 'loop.nfo')) }]
]

let made = 0
/** A copy of the clip that hashes differently (a `free` box at the end, which players skip): a new media each time. */
async function distinctClip (t: { context: { clip: Buffer } }, path: string): Promise<void> {
  made++
  const payload = Buffer.from(`hostile nfo ${made} ${Math.random()}`)
  const box = Buffer.alloc(8)
  box.writeUInt32BE(8 + payload.length, 0)
  box.write('free', 4, 'latin1')
  await writeFile(path, Buffer.concat([t.context.clip, box, payload]))
}

for (const [what, sidecar] of HOSTILE) {
  test.serial(`an NFO that is ${what} is ignored: the media is added under its file name`, async t => {
    made++
    const dir = join(t.context.main.dir, `nfo-${made}`)
    await mkdir(dir)
    const title = `Hostile Case ${made}`
    const source = join(dir, `${title} (2001).mp4`)
    await distinctClip(t, source)
    await sidecar(join(dir, 'movie.nfo'), dir)
    const res = await runCase(t, t.context.target, {
      name: what,
      method: 'POST',
      path: '/api/v1/media',
      body: JSON.stringify({ path: source }),
      status: 201,
      changes: 'stored',
      check: (t, res) => { t.is(res.json?.title, title) }
    })
    t.is(res.json?.year, 2001)
    const stored = t.context.probe.text()
    t.false(stored.includes('root:x:0:0'), 'nothing of /etc/passwd is stored')
    t.false(stored.includes('lollollollollollollollollollollollol'), 'no entity expanded')
    await t.context.main.server.metadata.idle()
  })
}

test.serial('a title with markup and bidi controls in a good NFO is kept as text without the controls and answered as JSON', async t => {
  const dir = join(t.context.main.dir, 'nfo-markup')
  await mkdir(dir)
  const source = join(dir, 'Markup (1999).mp4')
  await distinctClip(t, source)
  await writeFile(join(dir, 'movie.nfo'), '<movie><title>&lt;img src=x onerror=alert(1)&gt;\u202Egnp.exe</title><plot>&lt;script&gt;alert(1)&lt;/script&gt;</plot></movie>')
  const res = await runCase(t, t.context.target, { name: 'markup in an NFO', method: 'POST', path: '/api/v1/media', body: JSON.stringify({ path: source }), status: 201, changes: 'stored' })
  t.regex(String(res.headers['content-type']), /application\/json/)
  t.is(res.json?.title, '<img src=x onerror=alert(1)>gnp.exe')
  t.is(res.json?.overview, '<script>alert(1)</script>')
  await t.context.main.server.metadata.idle()
})
