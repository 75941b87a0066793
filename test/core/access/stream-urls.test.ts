import test from 'ava'
import { createStreamUrls } from '../../../core/access/index.ts'
import { MediaNotFoundError } from '../../../core/errors.ts'
import { MEDIA, rootOf, T0, tokenSetup, USER } from './helpers.ts'
import type { StreamMedia, StreamNode, StreamUrlComponents } from '../../../core/access/index.ts'
import type { ExecutionContext } from 'ava'

const SERVER = 'http://127.0.0.1:8080'

function nodeOf (label: string, change: Partial<StreamNode> = {}): StreamNode {
  return { name: `Node ${label}`, label, peerId: `12D3KooW${label}`, mode: 'shared', url: `http://${label}.example:8081/`, revoked: false, ...change }
}

async function setup (t: ExecutionContext, change: Partial<StreamUrlComponents> = {}): Promise<{ urls: ReturnType<typeof createStreamUrls>, setup: Awaited<ReturnType<typeof tokenSetup>>, media: StreamMedia }> {
  const tokens = await tokenSetup(t, { retireAfterSeconds: 86_400 })
  const [r360, r720, dir] = await Promise.all(['360p', '720p', 'dir'].map(rootOf))
  const media: StreamMedia = {
    id: MEDIA,
    renditions: [{ state: 'complete', root: r360.toString() }, { state: 'partial', root: null }, { state: 'complete', root: r720.toString() }],
    root: dir.toString()
  }
  const urls = createStreamUrls({
    signer: tokens.signer,
    keys: tokens.keys,
    media: async id => { if (id !== MEDIA) throw new MediaNotFoundError(`no media ${id}`); return media },
    nodes: async () => [nodeOf('alpha'), nodeOf('home', { mode: 'local' }), nodeOf('gone', { revoked: true })],
    serverUrl: () => SERVER,
    ...change
  })
  return { urls, setup: tokens, media }
}

test('a play URL points at the master playlist on the node, with a token for the media and its finished roots', async t => {
  const { urls, setup: { verifier }, media } = await setup(t)
  const played = await urls.create({ userId: USER, mediaId: MEDIA, node: 'Node alpha' })
  t.is(played.url, `http://alpha.example:8081/media/${MEDIA}/master.m3u8?token=${played.token}`)
  const claims = verifier.verify(played.token, { mediaId: MEDIA })
  t.is(claims.userId, USER)
  t.deepEqual([...claims.roots], [media.renditions[0].root, media.renditions[2].root, media.root], 'complete renditions and the media directory')
  t.is(played.expiresAt.getTime(), T0 + 6 * 3600_000, 'six hours by default')
  // by label and by peer ID too
  t.is(new URL((await urls.create({ userId: USER, mediaId: MEDIA, node: 'alpha' })).url).host, 'alpha.example:8081')
  t.is(new URL((await urls.create({ userId: USER, mediaId: MEDIA, node: '12D3KooWalpha' })).url).host, 'alpha.example:8081')
})

test('without a node the URL is the main server\'s own', async t => {
  const { urls } = await setup(t)
  const played = await urls.create({ userId: USER, mediaId: MEDIA, ttlSeconds: 60 })
  t.is(played.url, `${SERVER}/media/${MEDIA}/master.m3u8?token=${played.token}`)
  t.is(played.expiresAt.getTime(), T0 + 60_000)
})

test('an unknown node or media is not found; a revoked node or another user\'s local node is refused', async t => {
  const { urls } = await setup(t)
  await t.throwsAsync(urls.create({ userId: USER, mediaId: MEDIA, node: 'nowhere' }), { name: 'NodeNotFoundError' })
  await t.throwsAsync(urls.create({ userId: USER, mediaId: 'fedcba9876543210' }), { name: 'MediaNotFoundError' })
  await t.throwsAsync(urls.create({ userId: USER, mediaId: MEDIA, node: 'gone' }), { name: 'NodeRevokedError' })
  await t.throwsAsync(urls.create({ userId: USER, mediaId: MEDIA, node: 'home' }), { name: 'ForbiddenError', message: /local node/ })
})

test('a local node serves the user the ownership hook names, and nobody else', async t => {
  const { urls } = await setup(t, { ownerOf: node => node.label === 'home' ? USER : undefined })
  t.is(new URL((await urls.create({ userId: USER, mediaId: MEDIA, node: 'home' })).url).host, 'home.example:8081')
  await t.throwsAsync(urls.create({ userId: 'mallory', mediaId: MEDIA, node: 'home' }), { name: 'ForbiddenError' })
})

test('the TTL is a whole number of seconds up to the key ring\'s retirement time, and defaults below it', async t => {
  const { urls } = await setup(t)
  t.is(urls.maxTtlSeconds, 86_400)
  for (const ttlSeconds of [0, -1, 1.5, 86_401]) {
    await t.throwsAsync(urls.create({ userId: USER, mediaId: MEDIA, ttlSeconds }), { name: 'InvalidRequestError', message: /1 to 86400/ }, String(ttlSeconds))
  }
  const short = await setup(t, {})
  const ring = await tokenSetup(t, { retireAfterSeconds: 600 })
  const capped = createStreamUrls({ signer: ring.signer, keys: ring.keys, media: async () => short.media, nodes: async () => [], serverUrl: () => SERVER })
  t.is((await capped.create({ userId: USER, mediaId: MEDIA })).expiresAt.getTime(), T0 + 600_000, 'the default never exceeds the maximum')
})
