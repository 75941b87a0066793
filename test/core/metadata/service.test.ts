import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { unixfs } from '@helia/unixfs'
import { CID } from 'multiformats/cid'
import { pngOf } from '../../../fixtures/providers/stub-server.ts'
import { metadataWorld } from './helpers.ts'

async function bytesOf (world: Awaited<ReturnType<typeof metadataWorld>>, cid: string): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of unixfs(world.helia).cat(CID.parse(cid))) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('without providers a scene-named movie is identified from its path at add time', async t => {
  const world = await metadataWorld(t, { keys: {} })
  const media = await world.add('The.Matrix.1999.1080p.BluRay.x264-GRP.mkv')
  const view = await world.metadata.describe(media)
  t.like(view, { kind: 'movie', title: 'The Matrix', year: 1999, metadataSource: 'path', series: null, ids: { imdb: null, tmdb: null, tvdb: null } })
  t.is((await world.catalog.getMedia(media.id))?.title, 'The Matrix', 'media.title follows')
  const history = await world.metadata.history(media.id)
  t.is(history.length, 1)
  t.like(history[0], { actor: 'path', action: 'identify', changes: { title: { from: null, to: 'The Matrix' } } })
  t.is(world.stub.requests.length, 0)
  await t.throwsAsync(world.metadata.matches(media.id), { name: 'NoProviderError' })
})

test('providers identify a movie in the background: ids, overview, poster in IPFS, and its collection in order', async t => {
  const world = await metadataWorld(t)
  const first = await world.add('Movies/The Matrix (1999)/The Matrix (1999).mkv')
  const third = await world.add('Movies/The.Matrix.Revolutions.2003.1080p.mkv')
  const second = await world.add('Movies/The Matrix Reloaded (2003)/The Matrix Reloaded (2003).mkv')
  t.is((await world.metadata.describe(first)).metadataSource, 'path', 'the add returned before any provider answered')
  await world.metadata.idle()
  const view = await world.metadata.describe(first)
  t.like(view, {
    title: 'The Matrix',
    year: 1999,
    tagline: 'Welcome to the Real World.',
    releaseDate: '1999-03-30',
    ids: { tmdb: 603, imdb: 'tt0133093', tvdb: null },
    metadataSource: 'tmdb',
    collection: { title: 'The Matrix Collection' }
  })
  t.regex(view.overview ?? '', /22nd century/)
  const poster = view.images.poster
  if (poster == null) return t.fail('no poster')
  t.is(poster.url, `/api/v1/images/${poster.cid}`)
  t.deepEqual(await bytesOf(world, poster.cid), pngOf('/tmdb-images/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg'))
  t.not(view.images.backdrop, null)

  const collectionId = view.collection?.id as string
  const collection = await world.metadata.collection(collectionId)
  t.deepEqual(collection.items.map(i => i.title), ['The Matrix', 'The Matrix Reloaded', 'The Matrix Revolutions'])
  t.regex(collection.overview ?? '', /media franchise/)
  t.not(collection.images.poster, null)
  t.is((await world.metadata.next(first.id))?.id, second.id)
  t.is((await world.metadata.next(second.id))?.id, third.id)
  t.is(await world.metadata.next(third.id), null)
  t.deepEqual((await world.metadata.listCollections()).map(c => [c.title, c.itemCount]), [['The Matrix Collection', 3]])
})

test('a series is built once from its episodes, seasons in order, next episode across seasons', async t => {
  const world = await metadataWorld(t)
  const bb = 'TV/Breaking Bad (2008)'
  const e3 = await world.add(`${bb}/Season 01/Breaking Bad - S01E03.mkv`)
  const e1 = await world.add(`${bb}/Season 01/Breaking.Bad.S01E01.720p.HDTV.x264.mkv`)
  const s2 = await world.add(`${bb}/Season 02/Breaking Bad - S02E01 - Seven Thirty-Seven.mkv`)
  const e2 = await world.add(`${bb}/Season 01/Breaking Bad - S01E02.mkv`)
  const special = await world.add(`${bb}/Specials/Breaking Bad - S00E01.mkv`)
  await world.metadata.idle()
  const view = await world.metadata.describe(e2)
  t.like(view, { kind: 'episode', title: 'Cat\'s in the Bag...', season: 1, episode: 2, ids: { tmdb: 62086, imdb: 'tt1054724', tvdb: 349233 }, series: { title: 'Breaking Bad' } })
  t.not(view.images.still, null)
  const seriesId = view.series?.id as string
  for (const m of [e1, e3, s2, special]) t.is((await world.metadata.describe(m)).series?.id, seriesId)
  const series = await world.metadata.series(seriesId)
  t.like(series, { title: 'Breaking Bad', year: 2008, ids: { tmdb: 1396, imdb: 'tt0903747', tvdb: 81189 }, episodeCount: 5 })
  t.deepEqual(series.seasons.map(s => [s.number, s.title, s.episodeCount]), [[1, 'Season 1', 3], [2, 'Season 2', 1], [0, 'Specials', 1]])
  t.not(series.images.poster, null)
  t.not(series.seasons[0].poster, null)
  const season = await world.metadata.season(seriesId, 1)
  t.deepEqual(season.episodes.map(e => [e.episode, e.title]), [[1, 'Pilot'], [2, 'Cat\'s in the Bag...'], [3, '...And the Bag\'s in the River']])
  t.deepEqual((await world.metadata.episodes(seriesId)).map(e => e.id), [e1.id, e2.id, e3.id, s2.id, special.id])
  t.is((await world.metadata.next(e1.id))?.id, e2.id)
  t.is((await world.metadata.next(e3.id))?.id, s2.id, 'across the season boundary')
  t.is(await world.metadata.next(s2.id), null)
  t.is(await world.metadata.next(special.id), null, 'specials do not lead into the main run')
  t.deepEqual((await world.metadata.listSeries()).map(s => s.title), ['Breaking Bad'])
})

test('an NFO is preferred over the providers, which only fill what it leaves open', async t => {
  const world = await metadataWorld(t)
  await world.write('Movies/Matrix/movie.nfo', '<movie><title>The Matrix (Director NFO)</title><year>1999</year><plot>My own plot.</plot><uniqueid type="tmdb">603</uniqueid></movie>')
  const media = await world.add('Movies/Matrix/matrix.mkv')
  t.like(await world.metadata.describe(media), { title: 'The Matrix (Director NFO)', overview: 'My own plot.', metadataSource: 'nfo' })
  await world.metadata.idle()
  const view = await world.metadata.describe(media)
  t.like(view, { title: 'The Matrix (Director NFO)', overview: 'My own plot.', tagline: 'Welcome to the Real World.', ids: { tmdb: 603, imdb: 'tt0133093' }, metadataSource: 'nfo' })
  t.false(world.stub.requests.some(r => r.path.startsWith('/tmdb/3/search')), 'the NFO id was used, not a search')
})

test('provider failures never fail an add, and never replace earlier good metadata', async t => {
  // no answer cache, so the second identification really asks the failing providers
  const world = await metadataWorld(t, { http: { backoffMs: 10, timeoutMs: 500, retries: 1, cacheTtlMs: 0, notFoundTtlMs: 0 } })
  const media = await world.add('Movies/The.Matrix.1999.mkv')
  await world.metadata.idle()
  t.is((await world.metadata.describe(media)).metadataSource, 'tmdb')
  await world.metadata.edit(media.id, { overview: null, unlock: ['overview'] })
  // every provider now fails: 500s, garbage, slow
  world.stub.fault('/tmdb/', { status: 500 }, 100)
  world.stub.fault('/tvdb/', { kind: 'garbage' }, 100)
  world.stub.fault('/omdb/', { kind: 'not-json' }, 100)
  const result = await world.metadata.identify(media.id)
  t.true(result.errors.length > 0)
  t.like(result.metadata, { title: 'The Matrix', year: 1999, ids: { tmdb: 603, imdb: 'tt0133093' }, metadataSource: 'tmdb', tagline: 'Welcome to the Real World.' })
  const later = await world.add('Movies/The.Matrix.Reloaded.2003.mkv')
  await world.metadata.idle()
  t.like(await world.metadata.describe(later), { title: 'The Matrix Reloaded', year: 2003, metadataSource: 'path' })
})

test('hand edits are locked against identification, audited, and can be reverted', async t => {
  const world = await metadataWorld(t)
  const media = await world.add('Movies/The.Matrix.1999.mkv')
  await world.metadata.idle()
  const edited = await world.metadata.edit(media.id, { title: 'Matrix, The', year: 1998, ids: { imdb: 'tt0133093' } })
  t.like(edited.metadata, { title: 'Matrix, The', year: 1998, locked: ['imdb', 'title', 'year'] })
  t.is((await world.catalog.getMedia(media.id))?.title, 'Matrix, The')
  await world.metadata.identify(media.id)
  t.like(await world.metadata.describe(media), { title: 'Matrix, The', year: 1998 })
  const history = await world.metadata.history(media.id)
  const edit = history.find(e => e.action === 'edit')
  t.like(edit, { actor: 'user', changes: { title: { from: 'The Matrix', to: 'Matrix, The' }, year: { from: 1999, to: 1998 }, locked: { from: [], to: ['imdb', 'title', 'year'] } } })
  const reverted = await world.metadata.revert(media.id, edit?.id as number)
  t.like(reverted.metadata, { title: 'The Matrix', year: 1999, locked: [] })
  t.like((await world.metadata.history(media.id)).at(-1), { action: 'revert', reverts: edit?.id })
  await t.throwsAsync(world.metadata.revert(media.id, 99999), { name: 'AuditEntryNotFoundError' })
})

test('bad edits are refused with a reason and change nothing', async t => {
  const world = await metadataWorld(t, { keys: {} })
  const media = await world.add('Movies/Heat (1995).mkv')
  const cases: unknown[] = [
    { title: 'x'.repeat(401) },
    { title: '' },
    { title: null },
    { year: 99999 },
    { year: 1066 },
    { year: '1999; DROP TABLE media' },
    { releaseDate: '1995-02-30' },
    { ids: { imdb: 'nm0000158' } },
    { ids: { tmdb: -1 } },
    { ids: { facebook: 'x' } },
    { season: 1.5 },
    { path: '/etc/passwd' },
    { lock: ['path'] },
    {},
    [],
    'title'
  ]
  for (const body of cases) await t.throwsAsync(world.metadata.edit(media.id, body), { name: 'InvalidRequestError' }, JSON.stringify(body).slice(0, 60))
  t.like(await world.metadata.describe(media), { title: 'Heat', year: 1995, locked: [] })
  t.is((await world.metadata.history(media.id)).length, 1)
  await t.throwsAsync(world.metadata.edit('0000000000000000', { title: 'x' }), { name: 'MediaNotFoundError' })
})

test('bidi controls and other invisible format characters never reach a title, from a name, an NFO or an edit', async t => {
  const world = await metadataWorld(t, { keys: {} })
  // U+202E turns "Heat (1995)gpj.exe" into what reads as "Heat (1995)exe.jpg"; the others reorder or hide text the same way
  const hidden = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\u206a', '\u206f', '\u180e', '\ufff9', '\ufffb']
  const spoofed = `Heat\u202e (1995)${hidden.join('')}`
  const named = await world.add(`Movies/${spoofed}.mkv`)
  t.like(await world.metadata.describe(named), { title: 'Heat', year: 1995 })
  t.is((await world.catalog.getMedia(named.id))?.title, 'Heat', 'media.title follows')
  await world.write('Movies/Ronin/movie.nfo', '<movie><title>Ro\u202enin</title><plot>A\u2067 plot\u2069.</plot><tagline>\u200fTag</tagline></movie>')
  const nfo = await world.add('Movies/Ronin/ronin.mkv')
  t.like(await world.metadata.describe(nfo), { title: 'Ronin', overview: 'A plot.', tagline: 'Tag' })
  await world.metadata.edit(nfo.id, { title: `\u202eGodfather${hidden.join('')}`, overview: 'x\u202ey' })
  t.like(await world.metadata.describe(nfo), { title: 'Godfather', overview: 'xy' })
  // joiners that make words in Persian or Hindi and emoji sequences are kept
  await world.metadata.edit(nfo.id, { title: 'می\u200cخواهم \u{1F469}\u200d\u{1F4BB}' })
  t.is((await world.metadata.describe(nfo)).title, 'می\u200cخواهم \u{1F469}\u200d\u{1F4BB}')
})

test('matches are listed from every provider, and a picked match replaces the identification', async t => {
  const world = await metadataWorld(t)
  const media = await world.add('Movies/The.Matrix.mkv')
  await world.metadata.idle()
  t.like(await world.metadata.describe(media), { ids: { tmdb: 603 } })
  world.stub.fault('/omdb/', { status: 503 }, 10)
  const { kind, matches, errors } = await world.metadata.matches(media.id)
  t.is(kind, 'movie')
  t.deepEqual(matches.filter(m => m.provider === 'tmdb').map(m => m.id), ['603', '604', '605'])
  t.regex(errors.join(), /omdb/)
  const picked = await world.metadata.identify(media.id, { match: { provider: 'tmdb', kind: 'movie', id: '604' } })
  t.like(picked.metadata, { title: 'The Matrix Reloaded', year: 2003, ids: { tmdb: 604, imdb: 'tt0234215' }, tagline: 'Free your mind.' })
  await t.throwsAsync(world.metadata.identify(media.id, { match: { provider: 'tmdb', kind: 'movie', id: 'x' } }), { name: 'NoProviderError' })
  await t.throwsAsync(world.metadata.identify(media.id, { match: { provider: 'nope' as 'tmdb', kind: 'movie', id: '1' } }), { name: 'NoProviderError' })
})

test('edits are written back to the NFO when asked, and a hostile NFO is neither read nor overwritten', async t => {
  const world = await metadataWorld(t, { keys: {}, writeNfo: true })
  await world.write('Movies/Heat (1995)/Heat (1995).mkv', 'stands in for the video')
  const media = await world.add('Movies/Heat (1995)/Heat (1995).mkv')
  const result = await world.metadata.edit(media.id, { title: 'Heat', overview: 'A group of professional bank robbers.' })
  t.deepEqual(result.warnings, [])
  t.is(result.nfo, join(world.dir, 'Movies/Heat (1995)/Heat (1995).nfo'))
  const text = await readFile(result.nfo as string, 'utf8')
  t.regex(text, /<title>Heat<\/title>/)
  t.regex(text, /<plot>A group of professional bank robbers.<\/plot>/)

  const hostile = '<!DOCTYPE movie [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><movie><title>&xxe;</title></movie>'
  await world.write('Movies/Evil/evil.nfo', hostile)
  const evil = await world.add('Movies/Evil/evil.mkv')
  t.like(await world.metadata.describe(evil), { title: 'evil', metadataSource: 'path' })
  const edit = await world.metadata.edit(evil.id, { title: 'Not evil' })
  t.regex(edit.warnings.join(), /not overwriting/)
  t.is(await readFile(join(world.dir, 'Movies/Evil/evil.nfo'), 'utf8'), hostile)
  t.is(edit.metadata.title, 'Not evil', 'the edit itself is kept')
})

test('image URLs in an NFO that point inside are never fetched', async t => {
  const world = await metadataWorld(t, { keys: {} })
  await world.write('Movies/Heat/movie.nfo', `<movie><title>Heat</title>
    <thumb aspect="poster">http://169.254.169.254/latest/meta-data/iam</thumb>
    <fanart><thumb>http://[::ffff:127.0.0.1]:${new URL(world.stub.url).port}/img/a.png</thumb></fanart></movie>`)
  const media = await world.add('Movies/Heat/heat.mkv')
  t.like(await world.metadata.describe(media), { title: 'Heat', images: { poster: null, backdrop: null } })
  t.is(world.stub.requests.length, 0)
})

test('local artwork next to the media is stored in IPFS and preferred', async t => {
  const world = await metadataWorld(t)
  const png = pngOf('local poster')
  await world.write('Movies/Heat (1995)/poster.png', png)
  await world.write('Movies/Heat (1995)/fanart.jpg', 'not an image at all')
  const media = await world.add('Movies/Heat (1995)/Heat (1995).mkv')
  const view = await world.metadata.describe(media)
  t.deepEqual(await bytesOf(world, view.images.poster?.cid as string), png)
  t.is(view.images.backdrop, null, 'a file that is not an image is ignored')
})

test('extras are kept apart and listed with what they belong to; search finds titles', async t => {
  const world = await metadataWorld(t, { keys: {} })
  const movie = await world.add('Movies/Heat (1995)/Heat (1995).mkv')
  const trailer = await world.add('Movies/Heat (1995)/trailers/Official Trailer.mp4')
  await world.add('TV/Friends/Season 1/Friends - S01E01 - The One Where Monica Gets a Roommate.mkv')
  t.like(await world.metadata.describe(trailer), { kind: 'extra', extraType: 'trailer' })
  t.deepEqual((await world.metadata.extras(movie.id)).map(e => e.id), [trailer.id])
  const found = await world.metadata.search('HEAT')
  t.deepEqual(found.media.map(m => m.title), ['Heat'])
  t.deepEqual((await world.metadata.search('friends')).series.map(s => s.title), ['Friends'])
  t.deepEqual((await world.metadata.search('monica')).media.map(m => m.season), [1])
  t.deepEqual((await world.metadata.search('100%_')).media, [])
})

test('a file whose name reads as an extra is what its own NFO says; the main feature\'s movie.nfo does not relabel extras', async t => {
  const world = await metadataWorld(t, { keys: {} })
  await world.write('Samples/cidcast sample.nfo', '<movie><title>cidcast sample</title><plot>A test picture.</plot></movie>')
  const sample = await world.add('Samples/cidcast sample.mp4')
  t.like(await world.metadata.describe(sample), { kind: 'movie', title: 'cidcast sample', overview: 'A test picture.', extraType: null, metadataSource: 'nfo' })
  const bare = await world.add('Samples/other sample.mp4')
  t.like(await world.metadata.describe(bare), { kind: 'extra', extraType: 'sample' })

  await world.write('Movies/Heat (1995)/movie.nfo', '<movie><title>Heat</title><year>1995</year></movie>')
  const trailer = await world.add('Movies/Heat (1995)/Heat (1995)-trailer.mkv')
  t.like(await world.metadata.describe(trailer), { kind: 'extra', extraType: 'trailer', title: 'Heat' })
})

test('NFO write-back can be limited to some library folders', async t => {
  const scoped = await metadataWorld(t, dir => ({ keys: {}, writeNfo: [join(dir, 'Kodi')] }))
  await scoped.write('Kodi/Heat (1995)/Heat (1995).mkv', 'video')
  await scoped.write('Other/Ronin (1998)/Ronin (1998).mkv', 'video')
  const inside = await scoped.add('Kodi/Heat (1995)/Heat (1995).mkv')
  const outside = await scoped.add('Other/Ronin (1998)/Ronin (1998).mkv')
  t.truthy((await scoped.metadata.edit(inside.id, { overview: 'Written back.' })).nfo)
  t.is((await scoped.metadata.edit(outside.id, { overview: 'Kept in the catalog only.' })).nfo, undefined)
})
