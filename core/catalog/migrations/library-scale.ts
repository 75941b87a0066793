/*
 * What the twin migrations 1796800000000-library-scale (sqlite/ and postgres/) both write, kept once: the indexes of
 * `media` each order and filter of the library walks, and the statement that fills the list columns of rows already
 * there from their metadata (the dialects differ only in how they spell true and false).
 */

/** Every order (date added, title, year) alone, and after each filter (kind, other): name and columns. */
export const LIBRARY_SCALE_INDEXES: ReadonlyArray<[string, string]> = [
  ['idx_media_created_at', '"created_at", "id"'],
  ['idx_media_sort_key', '"sort_key", "id"'],
  ['idx_media_year', '"year_rank", "sort_key", "id"'],
  ['idx_media_kind_created_at', '"kind", "created_at", "id"'],
  ['idx_media_kind_sort_key', '"kind", "sort_key", "id"'],
  ['idx_media_kind_year', '"kind", "year_rank", "sort_key", "id"'],
  ['idx_media_other_created_at', '"other", "created_at", "id"'],
  ['idx_media_other_sort_key', '"other", "sort_key", "id"'],
  ['idx_media_other_year', '"other", "year_rank", "sort_key", "id"']
]

/** The UPDATE that gives every media its kind, other and year rank from its metadata (core/catalog/media-list.ts's rule). */
export function listColumnsBackfill (spelling: { yes: string, no: string }): string {
  return 'UPDATE "media" SET ' +
    '"kind" = (SELECT "mm"."kind" FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id"), ' +
    '"year_rank" = COALESCE((SELECT 9999 - "mm"."year" FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id" AND "mm"."year" BETWEEN 0 AND 9999), 10000), ' +
    '"other" = CASE WHEN EXISTS (SELECT 1 FROM "media_metadata" "mm" WHERE "mm"."media_id" = "media"."id" AND ' +
    `("mm"."kind" = 'movie' OR ("mm"."kind" = 'episode' AND "mm"."series_id" IS NOT NULL AND "mm"."season_number" IS NOT NULL))) THEN ${spelling.no} ELSE ${spelling.yes} END`
}
