import test from 'ava'
import { parseMediaPath, titleAndYear } from '../../../core/metadata/path-parser.ts'
import type { PathInfo } from '../../../core/metadata/path-parser.ts'

type Expected = Partial<Omit<PathInfo, 'series'>> & { series?: Partial<NonNullable<PathInfo['series']>> }

/** Real-world names, as Jellyfin and Kodi users keep them, and what each one means. */
const CASES: Array<[string, Expected]> = [
  // movies in their own folders
  ['/m/The Matrix (1999)/The Matrix (1999).mkv', { kind: 'movie', title: 'The Matrix', year: 1999, folder: '/m/The Matrix (1999)' }],
  ['/m/Blade Runner 2049 (2017)/Blade Runner 2049 (2017).mkv', { kind: 'movie', title: 'Blade Runner 2049', year: 2017 }],
  ['/m/1917 (2019).mkv', { kind: 'movie', title: '1917', year: 2019 }],
  ['/m/1917.mkv', { kind: 'movie', title: '1917', year: undefined }],
  ['/m/Amélie (2001)/Amélie (2001) - 1080p.mkv', { kind: 'movie', title: 'Amélie', year: 2001 }],
  ['/m/WALL-E (2008).mkv', { kind: 'movie', title: 'WALL-E', year: 2008 }],
  ['/m/The Lord of the Rings - The Fellowship of the Ring (2001).mkv', { kind: 'movie', title: 'The Lord of the Rings - The Fellowship of the Ring', year: 2001 }],
  ['/m/Kill Bill Vol 1 (2003) - cd1.avi', { kind: 'movie', title: 'Kill Bill Vol 1', year: 2003 }],
  ['/m/Se7en.mkv', { kind: 'movie', title: 'Se7en' }],
  // scene-style names
  ['/m/The.Matrix.1999.1080p.BluRay.x264-GRP.mkv', { kind: 'movie', title: 'The Matrix', year: 1999 }],
  ['/m/2001.A.Space.Odyssey.1968.REMASTERED.1080p.BluRay.mkv', { kind: 'movie', title: '2001 A Space Odyssey', year: 1968 }],
  ['/m/Avatar.2009.2160p.UHD.BluRay.x265.10bit.HDR.mkv', { kind: 'movie', title: 'Avatar', year: 2009 }],
  ['/m/Taken.2.2012.720p.BluRay.x264.mkv', { kind: 'movie', title: 'Taken 2', year: 2012 }],
  ['/m/Spider-Man.No.Way.Home.2021.1080p.WEB-DL.DDP5.1.x264.mkv', { kind: 'movie', title: 'Spider-Man No Way Home', year: 2021 }],
  ['/m/2012.2009.1080p.mkv', { kind: 'movie', title: '2012', year: 2009 }],
  ['/m/Alien_1979_Directors_Cut_1080p.mkv', { kind: 'movie', title: 'Alien', year: 1979 }],
  ['/m/Inception.1080p.BluRay.mkv', { kind: 'movie', title: 'Inception', year: undefined }],
  // ids in names win over any search
  ['/m/The Matrix (1999) [imdbid-tt0133093].mkv', { kind: 'movie', title: 'The Matrix', year: 1999, ids: { imdb: 'tt0133093' } }],
  ['/m/The Matrix (1999) [tmdbid-603]/movie.mkv', { kind: 'movie', title: 'The Matrix', year: 1999, ids: { tmdb: 603 } }],
  ['/m/Inception (2010) {tmdb-27205}.mp4', { kind: 'movie', title: 'Inception', year: 2010, ids: { tmdb: 27205 } }],
  ['/m/Heat (1995) [tmdbid=949] [imdbid-tt0113277].mkv', { kind: 'movie', title: 'Heat', year: 1995, ids: { tmdb: 949, imdb: 'tt0113277' } }],
  // hand-made names stay as they are
  ['/m/h264-aac-720p-30s.mp4', { kind: 'movie', title: 'h264-aac-720p-30s', year: undefined }],
  ['/m/<img src=x onerror=window.pwned=1>.mp4', { kind: 'movie', title: '<img src=x onerror=window.pwned=1>' }],
  ['/m/copy of it.mp4', { kind: 'movie', title: 'copy of it' }],
  ['/m/Movie 3000.mkv', { kind: 'movie', title: 'Movie 3000', year: undefined }],
  // series
  ['/tv/Breaking Bad (2008)/Season 01/Breaking Bad - S01E02 - Cat\'s in the Bag.mkv',
    { kind: 'episode', title: 'Cat\'s in the Bag', season: 1, episode: 2, series: { title: 'Breaking Bad', year: 2008, folder: '/tv/Breaking Bad (2008)' } }],
  ['/tv/Breaking Bad/Season 1/Breaking.Bad.S01E03.720p.HDTV.x264-CTU.mkv', { kind: 'episode', title: undefined, season: 1, episode: 3, series: { title: 'Breaking Bad' } }],
  ['/tv/Friends/Season 02/Friends - S02E12E13 - The One After the Super Bowl.mkv', { kind: 'episode', season: 2, episode: 12, episodeEnd: 13, title: 'The One After the Super Bowl' }],
  ['/tv/Friends/Season 02/Friends - S02E12-E13.mkv', { kind: 'episode', season: 2, episode: 12, episodeEnd: 13 }],
  ['/tv/Friends/Season 02/Friends S02E12-13.mkv', { kind: 'episode', season: 2, episode: 12, episodeEnd: 13 }],
  ['/tv/Lost/Season 1/1x02.mkv', { kind: 'episode', season: 1, episode: 2, series: { title: 'Lost' } }],
  ['/tv/Lost/Season 1/Lost - 1x02 - Pilot Part 2.mkv', { kind: 'episode', season: 1, episode: 2, title: 'Pilot Part 2' }],
  ['/tv/Doctor Who (2005)/Specials/Doctor Who - S00E01 - The Christmas Invasion.mkv', { kind: 'episode', season: 0, episode: 1, series: { title: 'Doctor Who', year: 2005 } }],
  ['/tv/Doctor Who (2005)/Season 00/Doctor.Who.2005.S00E02.mkv', { kind: 'episode', season: 0, episode: 2, series: { title: 'Doctor Who', year: 2005 } }],
  ['/tv/Doctor Who (2005)/Specials/Voyage of the Damned.S00E04.mkv', { kind: 'episode', season: 0, episode: 4, series: { title: 'Doctor Who' } }],
  ['/downloads/The.Office.US.S05E14.720p.HDTV.x264.mkv', { kind: 'episode', season: 5, episode: 14, series: { title: 'The Office US', folder: '/downloads' } }],
  ['/tv/Show Name [tvdbid-81189]/Season 1/Show Name S01E01.mkv', { kind: 'episode', season: 1, episode: 1, series: { title: 'Show Name', ids: { tvdb: 81189 } } }],
  ['/tv/Game of Thrones/Season 3/Episode 9.mkv', { kind: 'episode', season: 3, episode: 9, series: { title: 'Game of Thrones' } }],
  ['/tv/Game of Thrones/Season 3/09 - The Rains of Castamere.mkv', { kind: 'episode', season: 3, episode: 9, title: 'The Rains of Castamere' }],
  ['/tv/Game of Thrones/S03/E10 - Mhysa.mkv', { kind: 'episode', season: 3, episode: 10, title: 'Mhysa' }],
  ['/tv/Sherlock (2010)/Sherlock - s1e1.mkv', { kind: 'episode', season: 1, episode: 1, series: { title: 'Sherlock', year: 2010 } }],
  ['/tv/Shōgun (2024)/Season 01/Shōgun (2024) - S01E01 - Anjin.mkv', { kind: 'episode', season: 1, episode: 1, title: 'Anjin', series: { title: 'Shōgun', year: 2024 } }],
  ['/tv/The Expanse/Season 2/The.Expanse.S02.E05.Home.1080p.mkv', { kind: 'episode', season: 2, episode: 5, title: 'Home' }],
  ['/tv/The Expanse/Season 2/The Expanse - S02E05 [tvdbid-5889345].mkv', { kind: 'episode', season: 2, episode: 5, ids: { tvdb: 5889345 } }],
  // extras are kept apart, attached to the folder they belong to
  ['/m/The Matrix (1999)/trailers/Official Trailer.mp4', { kind: 'extra', extraType: 'trailer', folder: '/m/The Matrix (1999)' }],
  ['/m/The Matrix (1999)/The Matrix (1999)-trailer.mkv', { kind: 'extra', extraType: 'trailer', folder: '/m/The Matrix (1999)' }],
  ['/m/Some.Movie.2010.1080p/sample.mkv', { kind: 'extra', extraType: 'sample' }],
  ['/m/Some.Movie.2010.1080p/some.movie.2010.1080p.sample.mkv', { kind: 'extra', extraType: 'sample' }],
  ['/m/The Matrix (1999)/Behind The Scenes/Making of.mkv', { kind: 'extra', extraType: 'behindthescenes', title: 'Making of' }],
  ['/m/Heat (1995)/Heat-deleted.mkv', { kind: 'extra', extraType: 'deleted' }],
  ['/tv/Friends/extras/Bloopers.mkv', { kind: 'extra', extraType: 'other', folder: '/tv/Friends' }],
  ['/m/The Other.mkv', { kind: 'movie', title: 'The Other' }],
  ['/m/Short Circuit (1986).mkv', { kind: 'movie', title: 'Short Circuit', year: 1986 }]
]

for (const [path, expected] of CASES) {
  test(`identifies ${path}`, t => {
    const info = parseMediaPath(path)
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'series') {
        for (const [k, v] of Object.entries(value as object)) t.deepEqual((info.series as Record<string, unknown> | undefined)?.[k], v, `series.${k}`)
      } else if (key === 'ids') {
        t.deepEqual(info.ids, value, 'ids')
      } else {
        t.deepEqual((info as unknown as Record<string, unknown>)[key], value, key)
      }
    }
  })
}

test('absurd years are not years', t => {
  t.deepEqual(titleAndYear('Metropolis 1850'), { title: 'Metropolis 1850' })
  t.deepEqual(titleAndYear('Future (2999)'), { title: 'Future (2999)' })
})

test('a very long name gives a title bounded in length', t => {
  const info = parseMediaPath(`/m/${'A very long name '.repeat(100)}.mkv`)
  t.true((info.title ?? '').length <= 400)
})

test('a name with broken encoding and control characters still gives a one-line title', t => {
  const info = parseMediaPath('/m/Bad\ufffdName\u0007\nhere.mkv')
  t.is(info.title, 'Bad\ufffdName here')
})

test('a part number that belongs to the title stays', t => {
  t.is(parseMediaPath('/m/Harry Potter and the Deathly Hallows Part 2 (2011).mkv').title, 'Harry Potter and the Deathly Hallows Part 2')
  t.is(parseMediaPath('/m/Harry.Potter.and.the.Deathly.Hallows.Part.2.2011.1080p.BluRay.mkv').title, 'Harry Potter and the Deathly Hallows Part 2')
  t.is(parseMediaPath('/m/Dune (2021) - part1.mkv').title, 'Dune')
})

test('a series folder is its own only when its name gave the series title', t => {
  t.true(parseMediaPath('/tv/Lost/Season 1/1x02.mkv').series?.ownFolder)
  t.true(parseMediaPath('/tv/Sherlock (2010)/Sherlock - s1e1.mkv').series?.ownFolder)
  t.false(parseMediaPath('/downloads/The.Office.US.S05E14.720p.HDTV.x264.mkv').series?.ownFolder)
})

test('read without the extra rules, a name that looks like an extra is a movie or an episode', t => {
  t.like(parseMediaPath('/data/samples/cidcast sample.mp4'), { kind: 'extra', extraType: 'sample' })
  t.like(parseMediaPath('/data/samples/cidcast sample.mp4', { extras: false }), { kind: 'movie', title: 'cidcast sample', folder: '/data/samples' })
  t.like(parseMediaPath('/tv/Show/Season 1/Show - S01E02 - The Trailer.mkv', { extras: false }), { kind: 'episode', season: 1, episode: 2, title: 'The Trailer' })
})
