import test from 'ava'
import { createDaemonLogger } from '../../core/logger.ts'
import type { LogFormat, LogOutput } from '../../core/logger.ts'

/** A stand-in for stdout that keeps what is written; `tty` and `colors` say what kind of output it pretends to be. */
function output (tty: boolean, colors = false): LogOutput & { text: () => string } {
  let text = ''
  return { write: (s: string) => { text += s }, isTTY: tty, hasColors: () => colors, text: () => text }
}

async function logged (format: LogFormat, write: (log: Awaited<ReturnType<typeof createDaemonLogger>>) => void, options: { tty?: boolean, colors?: boolean, level?: string } = {}): Promise<string> {
  const out = output(options.tty ?? false, options.colors)
  write(await createDaemonLogger({ level: options.level ?? 'info', format, output: out }))
  return out.text()
}

const CLOCK = String.raw`\d\d:\d\d:\d\d\.\d{3}`

test('an entry becomes one readable line: time, level, part, message and its fields', async t => {
  const text = await logged('pretty', log => {
    log.child({ name: 'cidcast:node' }).info({ url: 'http://127.0.0.1:8081', peerId: '12D3KooWx', mode: 'shared', pinned: 3, full: false }, 'CDN node ready')
  })
  t.regex(text, new RegExp(`^${CLOCK} INFO  node       CDN node ready url=http://127\\.0\\.0\\.1:8081 peerId=12D3KooWx mode=shared pinned=3 full=false\\n$`))
})

test('levels, lists, objects and text with spaces stay unambiguous on one line', async t => {
  const text = await logged('pretty', log => {
    log.child({ name: 'cidcast:dns' }).warn({ addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'], dns: { host: '127.0.0.1', port: 5353 }, reason: 'two words', empty: '' }, 'odd')
  })
  t.is(text.split('\n').length, 2)
  t.regex(text, new RegExp(`^${CLOCK} WARN  dns        odd addrs=/ip4/127\\.0\\.0\\.1/tcp/4001,/ip4/10\\.0\\.0\\.2/tcp/4001 dns=\\{"host":"127\\.0\\.0\\.1","port":5353\\} reason="two words" empty=""\\n$`))
})

test('an error shows its type and message, and its stack only at debug', async t => {
  const err = new TypeError('the main server said no')
  const atInfo = await logged('pretty', log => { log.child({ name: 'cidcast:node-agent' }).error({ err }, 'registration failed') })
  t.regex(atInfo, new RegExp(`^${CLOCK} ERROR node-agent registration failed err="TypeError: the main server said no"\\n$`))
  const atDebug = await logged('pretty', log => { log.child({ name: 'cidcast:node-agent' }).error({ err }, 'registration failed') }, { level: 'debug' })
  const lines = atDebug.trimEnd().split('\n')
  t.true(lines.length > 1)
  t.true(lines.slice(1).every(l => l.startsWith('    at ')), atDebug)
})

test('secrets and control characters never reach the terminal, and JSON redacts the same secrets', async t => {
  const write = (log: Awaited<ReturnType<typeof createDaemonLogger>>): void => {
    log.info({ swarmKey: 'c0ffee-swarm', token: 'tok-123', nested: { apiKey: 'api-456' }, tmdbKey: 'tmdb-789', 'X-Api-Token': 'hdr-000' }, 'settings \u001b[2J\nINFO fake line')
  }
  const pretty = await logged('pretty', write)
  t.is(pretty.split('\n').length, 2, 'one line')
  t.false(pretty.includes('\u001b'))
  t.regex(pretty, /settings \\u001b\[2J\\nINFO fake line/)
  for (const secret of ['c0ffee-swarm', 'tok-123', 'api-456', 'tmdb-789', 'hdr-000']) t.false(pretty.includes(secret), secret)
  const json = await logged('json', write)
  for (const secret of ['c0ffee-swarm', 'tok-123', 'api-456', 'tmdb-789']) t.false(json.includes(secret), secret)
})

test('a logged name field stays a field; the part is still the logger that wrote it', async t => {
  const text = await logged('pretty', log => { log.child({ name: 'cidcast:ipns-publisher' }).info({ name: 'k51qzi5' }, 'IPNS record published') })
  t.regex(text, new RegExp(`^${CLOCK} INFO  ipns-publisher IPNS record published name=k51qzi5\\n$`))
})

test('auto gives JSON on a pipe and readable lines on a terminal, coloured only when the terminal has colours', async t => {
  const write = (log: Awaited<ReturnType<typeof createDaemonLogger>>): void => { log.child({ name: 'cidcast:server' }).info({ url: 'http://x' }, 'main server ready') }
  const piped = await logged('auto', write)
  t.like(JSON.parse(piped), { level: 30, name: 'cidcast:server', msg: 'main server ready', url: 'http://x' })
  const plain = await logged('auto', write, { tty: true, colors: false })
  t.regex(plain, new RegExp(`^${CLOCK} INFO  server     main server ready url=http://x\\n$`))
  const coloured = await logged('auto', write, { tty: true, colors: true })
  t.true(coloured.includes('\u001b['))
  t.is(coloured.replaceAll(/\[\d+m/g, '').replaceAll('\u001b', '').slice(12), plain.slice(12))
  t.regex(await logged('json', write, { tty: true, colors: true }), /^\{"level":30/)
})
