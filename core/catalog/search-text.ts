/*
 * What a search of the library scans (`media_search.text`): a media's titles in lower case, every letter
 * folded (SQL's LOWER folds ASCII alone in SQLite, and in PostgreSQL under collation C), so "émile" finds "Émile" on
 * both databases, and no title is lowered again at each search.
 */

/** A media's titles as a search scans them: lower case, one line each (a search term holds no line break). */
export function searchText (title: string, originalTitle: string | null | undefined): string {
  return [title, originalTitle ?? ''].map(t => t.toLowerCase().replace(/[\r\n]+/g, ' ')).join('\n').trimEnd()
}

/** A LIKE pattern finding `text` anywhere in a search text, its wildcards and line breaks taken literally or dropped. */
export function searchPattern (text: string): string {
  return `%${text.toLowerCase().replace(/[\r\n]+/g, ' ').replace(/[\\%_]/g, c => `\\${c}`)}%`
}
