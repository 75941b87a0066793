import anyTest from 'ava'
import { pngOf, startProviderStub } from '../../../fixtures/providers/stub-server.ts'
import { forbiddenAddress } from '../../../core/metadata/address-policy.ts'
import { ImageRefusedError } from '../../../core/metadata/errors.ts'
import { createImageFetcher, sniffImage } from '../../../core/metadata/image-fetcher.ts'
import type { ProviderStub } from '../../../fixtures/providers/stub-server.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ stub: ProviderStub }>

test.beforeEach(async t => { t.context.stub = await startProviderStub() })
test.afterEach.always(async t => { await t.context.stub.stop() })

const FORBIDDEN: Array<[string, RegExp]> = [
  ['127.0.0.1', /loopback/],
  ['127.255.0.9', /loopback/],
  ['10.1.2.3', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.168.1.1', /private/],
  ['169.254.169.254', /link-local/],
  ['100.64.0.1', /carrier-grade/],
  ['0.0.0.0', /this-network/],
  ['224.0.0.1', /multicast/],
  ['255.255.255.255', /reserved|broadcast/],
  ['::1', /loopback/],
  ['::', /unspecified/],
  ['::ffff:127.0.0.1', /IPv4-mapped loopback/],
  ['::ffff:7f00:1', /IPv4-mapped loopback/],
  ['::ffff:169.254.169.254', /IPv4-mapped link-local/],
  ['0:0:0:0:0:ffff:a00:1', /IPv4-mapped private/],
  ['::127.0.0.1', /IPv4-compatible/],
  ['64:ff9b::a9fe:a9fe', /NAT64 link-local/],
  ['2002:7f00:1::', /6to4 loopback/],
  ['fc00::1', /unique-local/],
  ['fd12:3456:789a::1', /unique-local/],
  ['fe80::1%eth0', /link-local/],
  ['ff02::1', /multicast/],
  ['2001:db8::1', /documentation/],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
  ['not-an-ip', /not an IP/]
]
const PUBLIC = ['8.8.8.8', '151.101.1.140', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']

test('internal addresses are refused in every spelling; public ones pass', t => {
  for (const [address, reason] of FORBIDDEN) t.regex(forbiddenAddress(address) ?? 'allowed', reason, address)
  for (const address of PUBLIC) t.is(forbiddenAddress(address), undefined, address)
})

test('an image from an allowed host is fetched and recognised by its bytes', async t => {
  const { stub } = t.context
  const fetcher = createImageFetcher({ hosts: [stub.host], allowAddresses: ['127.0.0.1'], allowHttp: true })
  const image = await fetcher.fetch(`${stub.url}/img/poster.jpg`)
  t.is(image.type, 'image/png') // the stub sends PNG bytes under a .jpg name: the bytes decide
  t.deepEqual(Buffer.from(image.bytes), pngOf('/img/poster.jpg'))
})

test('loopback is refused by default, even on an allowed host', async t => {
  const { stub } = t.context
  const fetcher = createImageFetcher({ hosts: [stub.host], allowHttp: true })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { instanceOf: ImageRefusedError, message: /127\.0\.0\.1 \(loopback\)/ })
  t.is(stub.requests.length, 0, 'nothing was sent')
})

test('hosts that are not configured, other schemes, credentials and other ports are refused', async t => {
  const { stub } = t.context
  const fetcher = createImageFetcher({ hosts: [stub.host, 'image.tmdb.org'], allowAddresses: ['127.0.0.1'] })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { message: /scheme http: is not allowed/ })
  const withHttp = createImageFetcher({ hosts: [stub.host, 'image.tmdb.org'], allowAddresses: ['127.0.0.1'], allowHttp: true })
  await t.throwsAsync(withHttp.fetch('http://evil.example/a.png'), { message: /not a configured image host/ })
  await t.throwsAsync(withHttp.fetch('https://image.tmdb.org:8443/a.png'), { message: /not a configured image host/ })
  await t.throwsAsync(withHttp.fetch(`http://user:pw@${stub.host}/img/a.png`), { message: /credentials/ })
  await t.throwsAsync(withHttp.fetch('file:///etc/passwd'), { message: /scheme file:/ })
  await t.throwsAsync(withHttp.fetch('not a url'), { message: /does not parse/ })
  t.true(withHttp.allowed(`${stub.url}/img/a.png`))
  t.false(withHttp.allowed('http://169.254.169.254/latest/meta-data'))
  t.is(stub.requests.length, 0)
})

test('a host whose DNS points inside is refused before any connection', async t => {
  const resolved: string[] = []
  const dns = (answers: string[]) => async (host: string) => { resolved.push(host); return answers.map(address => ({ address, family: address.includes(':') ? 6 : 4 })) }
  for (const answers of [['10.0.0.5'], ['93.184.216.34', '192.168.0.10'], ['::ffff:169.254.169.254'], ['fd00::1']]) {
    const fetcher = createImageFetcher({ hosts: ['images.example'], resolve: dns(answers) })
    await t.throwsAsync(fetcher.fetch('https://images.example/poster.jpg'), { instanceOf: ImageRefusedError, message: /resolves to .* refused/ }, answers.join(','))
  }
  t.is(resolved.length, 4)
})

test('the connection goes to the address that was checked, not to a second DNS answer', async t => {
  const { stub } = t.context
  const port = new URL(stub.url).port
  // "images.test" exists only in this resolver: a second lookup by the system would fail
  const fetcher = createImageFetcher({ hosts: [`images.test:${port}`], allowAddresses: ['127.0.0.1'], allowHttp: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
  const image = await fetcher.fetch(`http://images.test:${port}/img/pinned.png`)
  t.is(image.type, 'image/png')
})

test('redirects are checked like the first URL: internal targets, IPv4-mapped spellings and loops are refused', async t => {
  const { stub } = t.context
  const port = new URL(stub.url).port
  const hosts = [stub.host, `[::ffff:7f00:1]:${port}`, `169.254.169.254:${port}`]
  const fetcher = createImageFetcher({ hosts, allowAddresses: ['127.0.0.1'], allowHttp: true })
  stub.fault('/img/', { kind: 'redirect', location: `http://169.254.169.254:${port}/latest/meta-data` })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { message: /169\.254\.169\.254 \(link-local\)/ })
  stub.fault('/img/', { kind: 'redirect', location: `http://[::ffff:127.0.0.1]:${port}/img/a.png` })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { message: /IPv4-mapped loopback/ })
  stub.fault('/img/', { kind: 'redirect', location: 'http://metadata.google.internal/computeMetadata/v1/' })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { message: /not a configured image host/ })
  stub.fault('/img/', { kind: 'redirect', location: '/img/b.png' }, 4)
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/a.png`), { message: /more than 3 redirects/ })
  // a redirect within the allowed host is followed
  const ok = createImageFetcher({ hosts: [stub.host], allowAddresses: ['127.0.0.1'], allowHttp: true })
  stub.fault('/img/moved', { kind: 'redirect', location: '/img/here.png' })
  t.like(await ok.fetch(`${stub.url}/img/moved.png`), { type: 'image/png', url: `${stub.url}/img/here.png` })
})

test('huge answers, pages posing as images and SVG are refused', async t => {
  const { stub } = t.context
  const fetcher = createImageFetcher({ hosts: [stub.host], allowAddresses: ['127.0.0.1'], allowHttp: true, maxBytes: 1 << 20 })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/huge.png`), { message: /over the 1048576-byte limit/ })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/page.png`), { message: /text\/html is not an image/ })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/logo.svg`), { message: /SVG/ })
  stub.fault('/img/', { status: 404 })
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/gone.png`), { message: /HTTP 404/ })
})

test('a slow image host ends at the deadline', async t => {
  const { stub } = t.context
  const fetcher = createImageFetcher({ hosts: [stub.host], allowAddresses: ['127.0.0.1'], allowHttp: true, timeoutMs: 300 })
  stub.fault('/img/', { kind: 'slow' })
  const started = Date.now()
  await t.throwsAsync(fetcher.fetch(`${stub.url}/img/slow.png`), { message: /no image within 300 ms/ })
  // a behaviour: the 300 ms deadline ended it (the stub never finishes), with a tenfold margin for a busy machine
  t.true(Date.now() - started < 3000)
})

test('image types are told by their first bytes', t => {
  t.is(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg')
  t.is(sniffImage(pngOf('x')), 'image/png')
  t.is(sniffImage(Buffer.from('GIF89a......')), 'image/gif')
  t.is(sniffImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp')
  t.is(sniffImage(Buffer.from('<svg')), undefined)
})
