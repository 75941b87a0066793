import test from 'ava'
import { sortKey } from '../../../core/catalog/sort-key.ts'

/** Titles in the order their keys put them (bytewise, as SQLite compares them). */
function sorted (titles: string[]): string[] {
  return titles.map(title => ({ title, key: sortKey(title) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ title }) => title)
}

test('numbers in titles sort by value: Movie 2 comes before Movie 10', t => {
  t.deepEqual(sorted(['Movie 10', 'Movie 9', 'Movie 100', 'Movie 2', 'Movie 1', 'Movie 89']),
    ['Movie 1', 'Movie 2', 'Movie 9', 'Movie 10', 'Movie 89', 'Movie 100'])
  t.deepEqual(sorted(['Part 1 Chapter 10', 'Part 1 Chapter 9', 'Part 01 Chapter 2']), ['Part 01 Chapter 2', 'Part 1 Chapter 9', 'Part 1 Chapter 10'])
})

test('a leading The, A or An is ignored, so The Matrix sorts under M', t => {
  t.deepEqual(sorted(['The Matrix', 'Memento', 'Alien', 'A Beautiful Mind', 'An American Tail', 'Mulan', 'Batman']),
    ['Alien', 'An American Tail', 'Batman', 'A Beautiful Mind', 'The Matrix', 'Memento', 'Mulan'])
  t.is(sortKey('The'), 'the', 'a title that is only an article keeps it')
  t.is(sortKey('Theodore'), 'theodore', 'only a whole word is dropped')
})

test('case, accents, apostrophes and punctuation do not change the order', t => {
  t.is(sortKey('Amélie'), sortKey('amelie'))
  t.is(sortKey('ÉCOLE'), sortKey('ecole'))
  t.is(sortKey('Straße'), sortKey('strasse'))
  t.is(sortKey("Ocean's Eleven"), sortKey('Oceans Eleven'))
  t.is(sortKey('Star Wars: Episode IV'), sortKey('star wars episode iv'))
  t.deepEqual(sorted(['Zorro', 'Élan', 'eagle', 'Echo']), ['eagle', 'Echo', 'Élan', 'Zorro'])
  t.deepEqual(sorted(['Star Wars', 'Starship Troopers', 'Star Trek']), ['Star Trek', 'Star Wars', 'Starship Troopers'], 'words sort before longer words')
})

test('a sort title someone chose is used as given, articles and all, with its numbers padded', t => {
  t.is(sortKey('The Matrix', 'Matrix 1'), sortKey('Matrix 1'))
  t.is(sortKey('Anything', 'The Beatles'), 'the beatles')
  t.is(sortKey('Anything', '  '), sortKey('Anything'), 'a blank sort title is no sort title')
})

test('titles of punctuation alone still get a key', t => {
  t.is(sortKey('!!!'), '!!!')
  t.not(sortKey('...'), '')
})
