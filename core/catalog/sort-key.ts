/*
 * The key the library sorts titles by, stored per media (`media.sort_key`) so the database orders the whole
 * library, page by page. It follows Jellyfin's sort names: case and accents ignored, a leading "The", "A" or
 * "An" dropped from a title (not from a sort title someone chose), and every run of digits zero-padded, so
 * "Movie 2" comes before "Movie 10". The key is compared bytewise (SQLite's BINARY collation).
 */

/** Words dropped from the front of a title, as Jellyfin's default SortRemoveWords. */
const LEADING_ARTICLES = new Set(['the', 'a', 'an'])
/** Digit runs are padded to this width; longer runs (13 digits and more) still sort among themselves. */
const DIGIT_RUN_WIDTH = 12
/** Letters that Unicode decomposition leaves whole, spelled as readers alphabetise them. */
const FOLDED: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i' }

/** The stored sort key of a media: from its sort title when it has one, else from its title. */
export function sortKey (title: string, sortTitle?: string | null): string {
  const forced = sortTitle != null && sortTitle.trim() !== ''
  const words = fold(forced ? sortTitle : title)
  if (!forced && words.length > 1 && LEADING_ARTICLES.has(words[0])) words.shift()
  const key = words.join(' ').replace(/\d+/g, run => run.replace(/^0+/, '').padStart(DIGIT_RUN_WIDTH, '0'))
  // a title of punctuation alone still gets a key of its own
  return key !== '' ? key : (forced ? sortTitle : title).trim().toLowerCase()
}

/** Titles compared the way people read them: case, accents and punctuation ignored. */
export function normalTitle (title: string): string {
  return title.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\p{L}\p{N}]+/gu, ' ').trim()
}

/** Lower case, accents and apostrophes dropped, split into words at every other non-letter, non-digit. */
function fold (text: string): string[] {
  const plain = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
    .replace(/[ßæœøłđðþı]/g, c => FOLDED[c] ?? c)
    .replace(/['’‘`´]/g, '')
  return plain.split(/[^\p{L}\p{N}]+/u).filter(w => w !== '')
}
