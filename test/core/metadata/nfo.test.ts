import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { NfoError, buildItemNfo, decodeNfo, parseNfo, readNfoFile } from '../../../core/metadata/nfo.ts'
import { XmlParseError, parseXml } from '../../../core/metadata/xml.ts'
import { tempDir } from '../../helpers/tmp.ts'

const FIXTURES = fileURLToPath(new URL('../../../fixtures/nfo/', import.meta.url))

test('a Kodi movie NFO gives title, year, plot, ids, artwork and its collection', async t => {
  const doc = await readNfoFile(join(FIXTURES, 'movie.nfo'))
  if (doc?.kind !== 'movie') return t.fail(`kind ${doc?.kind}`)
  t.like(doc.info, {
    kind: 'movie',
    title: 'The Matrix',
    sortTitle: 'Matrix 1',
    year: 1999,
    releaseDate: '1999-03-30',
    tagline: 'Welcome to the Real World.',
    ids: { imdb: 'tt0133093', tmdb: 603 },
    posterUrl: 'https://image.tmdb.org/t/p/original/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg',
    backdropUrl: 'https://image.tmdb.org/t/p/original/ncEsesgOJDNrTUED89hYbA117wo.jpg',
    collection: { title: 'The Matrix Collection', overview: 'The Matrix collection follows Neo & friends.' }
  })
  t.regex(doc.info.overview ?? '', /^Set in the 22nd century/)
})

test('a tvshow NFO gives the series with its season posters', async t => {
  const doc = await readNfoFile(join(FIXTURES, 'tvshow.nfo'))
  if (doc?.kind !== 'tvshow') return t.fail()
  t.like(doc.series, { title: 'Breaking Bad', year: 2008, ids: { tvdb: 81189, tmdb: 1396, imdb: 'tt0903747' } })
  t.regex(doc.series.overview ?? '', /cancer & given/)
  t.deepEqual(doc.series.seasons, [
    { number: 0, posterUrl: 'https://artworks.thetvdb.com/banners/seasons/81189-0.jpg' },
    { number: 1, title: 'Season 1', posterUrl: 'https://artworks.thetvdb.com/banners/seasons/81189-1-4.jpg' }
  ])
})

test('a multi-episode NFO gives the first episode and where the run ends', async t => {
  const doc = await readNfoFile(join(FIXTURES, 'multi-episode.nfo'))
  if (doc?.kind !== 'episode') return t.fail()
  t.like(doc.info, { title: 'The One After the Superbowl (1)', season: 2, episode: 12, episodeEnd: 13, ids: { tvdb: 303909 }, releaseDate: '1996-01-28', series: { title: 'Friends' } })
})

test('a missing NFO is no NFO', async t => {
  t.is(await readNfoFile('/nonexistent/folder/movie.nfo'), undefined)
})

const HOSTILE: Array<[string, string, RegExp]> = [
  ['billion laughs', `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<movie><title>&lol3;</title></movie>`, /DOCTYPE/],
  ['an external entity (XXE)', '<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><movie><title>&xxe;</title></movie>', /DOCTYPE/],
  ['an external DTD', '<!DOCTYPE movie SYSTEM "http://127.0.0.1/evil.dtd"><movie><title>x</title></movie>', /DOCTYPE/],
  ['an undeclared entity', '<movie><title>&xxe;</title></movie>', /unknown entity/],
  ['a declaration inside an element', '<movie><!ENTITY x "y"><title>x</title></movie>', /declaration/],
  ['deep nesting', `<movie>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</movie>`, /deeper/],
  ['an element flood', `<movie>${'<genre>x</genre>'.repeat(30_000)}</movie>`, /more than/],
  ['mismatched tags', '<movie><title>x</plot></movie>', /closes/],
  ['an unclosed root', '<movie><title>x</title>', /never closed/],
  ['an unquoted attribute', '<movie><uniqueid type=tmdb>1</uniqueid></movie>', /not quoted/],
  ['a duplicate attribute', '<movie><uniqueid type="a" type="b">1</uniqueid></movie>', /twice/],
  ['a NUL character reference', '<movie><title>&#0;</title></movie>', /does not allow/],
  ['an out-of-range character reference', '<movie><title>&#x110000;</title></movie>', /out of range/],
  ['no element at all', 'just some text', /no root/],
  ['an unknown root', '<musicvideo><title>x</title></musicvideo>', /unknown root/]
]

for (const [what, text, reason] of HOSTILE) {
  test(`an NFO with ${what} is refused with a reason`, t => {
    const started = performance.now()
    const err = t.throws(() => parseNfo(text), { instanceOf: NfoError })
    t.regex(err?.message ?? '', reason)
    // a guard against super-linear parsing of hostile input (a flood is refused in milliseconds; a parser that
    // backtracks or copies per element takes minutes), not a speed figure: hence the wide bound
    t.true(performance.now() - started < 5000, 'refused quickly')
  })
}

test('a document larger than the limit is refused before parsing', t => {
  t.throws(() => parseXml('<movie>' + 'x'.repeat(2_000_000) + '</movie>'), { instanceOf: XmlParseError, message: /longer than/ })
})

test('invalid UTF-8 is refused; UTF-16 with a BOM and UTF-8 with a BOM are read', t => {
  t.throws(() => decodeNfo(Buffer.from([0x3c, 0x6d, 0x3e, 0xff, 0xfe, 0xfd, 0x3c])), { instanceOf: NfoError, message: /UTF-8/ })
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<movie><title>Amélie</title></movie>', 'utf16le')])
  t.like(parseNfo(decodeNfo(utf16)), { info: { title: 'Amélie' } })
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<movie><title>Léon</title></movie>')])
  t.like(parseNfo(decodeNfo(bom)), { info: { title: 'Léon' } })
})

test('bad fields are dropped with reasons and the good ones kept', t => {
  const dropped: string[] = []
  const doc = parseNfo(`<movie><title>${'x'.repeat(5000)}</title><year>99999</year><plot>Fine &amp; dandy &#x263A;</plot>
    <uniqueid type="imdb">not-an-id</uniqueid><uniqueid type="tmdb">-5</uniqueid><premiered>1999-02-31</premiered>
    <thumb aspect="poster">javascript:alert(1)</thumb><originaltitle>Tom & Jerry</originaltitle></movie>`, field => { dropped.push(field) })
  if (doc.kind !== 'movie') return t.fail()
  t.deepEqual(doc.info.ids, {})
  t.is(doc.info.title, undefined)
  t.is(doc.info.year, undefined)
  t.is(doc.info.posterUrl, undefined)
  t.is(doc.info.overview, 'Fine & dandy ☺')
  t.is(doc.info.originalTitle, 'Tom & Jerry')
  t.deepEqual(dropped.sort(), ['ids.imdb', 'ids.tmdb', 'releaseDate', 'title', 'year'])
})

test('writing back keeps every element it does not manage and reads back the same', async t => {
  const dir = await tempDir('cidcast-nfo-')
  t.teardown(dir.remove)
  const existing = await readFile(join(FIXTURES, 'movie.nfo'), 'utf8')
  const text = buildItemNfo('movie', { title: 'The Matrix <Reloaded> & "more"', year: 2003, overview: 'New plot', ids: { tmdb: 604, imdb: 'tt0234215' } }, existing)
  const path = join(dir.path, 'movie.nfo')
  await writeFile(path, text)
  const doc = await readNfoFile(path)
  if (doc?.kind !== 'movie') return t.fail()
  t.like(doc.info, { title: 'The Matrix <Reloaded> & "more"', year: 2003, overview: 'New plot', ids: { tmdb: 604, imdb: 'tt0234215' } })
  // untouched: actors, ratings, artwork; replaced: the old plot, ids and set
  t.true(text.includes('<name>Keanu Reeves</name>'))
  t.true(text.includes('<rating name="themoviedb" max="10" default="true">'))
  t.false(text.includes('22nd century'))
  t.is(text.match(/<uniqueid/g)?.length, 2)
})

test('an existing NFO that cannot be read is never overwritten', t => {
  t.throws(() => buildItemNfo('movie', { title: 'x', ids: {} }, '<!DOCTYPE x [<!ENTITY a "b">]><movie/>'), { instanceOf: NfoError, message: /not overwriting/ })
  t.throws(() => buildItemNfo('movie', { title: 'x', ids: {} }, '<tvshow><title>x</title></tvshow>'), { instanceOf: NfoError, message: /not overwriting/ })
})

test('an episode NFO is written with its series, season and episode', t => {
  const text = buildItemNfo('episode', { title: 'Pilot', season: 1, episode: 1, ids: { tvdb: 349232 }, releaseDate: '2008-01-20' }, undefined, 'Breaking Bad')
  const doc = parseNfo(text)
  t.like(doc, { kind: 'episode', info: { title: 'Pilot', season: 1, episode: 1, ids: { tvdb: 349232 }, series: { title: 'Breaking Bad' } } })
})
