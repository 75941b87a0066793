import { Command, InvalidArgumentError } from 'commander'
import { createApiClient } from '../api-client.ts'
import { collect } from './options.ts'
import type { ApiClient } from '../api-client.ts'
import type { AuditEntry } from '../../core/catalog/index.ts'
import type { Match } from '../../core/metadata/index.ts'
import type { MediaMetadataView } from '../../core/metadata/index.ts'

/*
 * `cidcast meta show|set|identify|history|revert`: a media's metadata through the server's API. Edits made
 * here are locked against later identification, like edits in the web UI, and land in the audit trail.
 */

export interface MetaOutput {
  out?: NodeJS.WritableStream
  err?: NodeJS.WritableStream
}

/** Fields `meta set` accepts, and which of them are numbers. */
const SETTABLE = ['title', 'originalTitle', 'sortTitle', 'year', 'releaseDate', 'overview', 'tagline', 'imdb', 'tmdb', 'tvdb', 'season', 'episode', 'episodeEnd', 'kind', 'seriesTitle'] as const
const NUMERIC = new Set(['year', 'tmdb', 'tvdb', 'season', 'episode', 'episodeEnd'])

/** One-line rendering of text for the terminal: control characters shown escaped. */
function shown (text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text) : text
}

function media (id: string): string {
  return `/api/v1/media/${encodeURIComponent(id)}`
}

/** The lines `meta show` prints for a media's metadata. */
export function metadataLines (id: string, m: MediaMetadataView): string[] {
  const ids = Object.entries(m.ids).filter(([, v]) => v != null).map(([k, v]) => `${k} ${String(v)}`).join(', ')
  const rows: Array<[string, string | number | null | undefined]> = [
    ['id', id],
    ['kind', m.kind + (m.extraType != null ? ` (${m.extraType})` : '')],
    ['title', m.title],
    ['series', m.series == null ? null : `${m.series.title} (${m.series.id})`],
    ['season', m.season],
    ['episode', m.episode == null ? null : m.episodeEnd != null ? `${m.episode}-${m.episodeEnd}` : m.episode],
    ['collection', m.collection == null ? null : `${m.collection.title} (${m.collection.id})`],
    ['year', m.year],
    ['released', m.releaseDate],
    ['original', m.originalTitle],
    ['tagline', m.tagline],
    ['ids', ids === '' ? null : ids],
    ['poster', m.images.poster?.url ?? m.images.still?.url],
    ['locked', m.locked.length === 0 ? null : m.locked.join(', ')],
    ['source', m.metadataSource],
    ['overview', m.overview]
  ]
  return rows.filter(([, v]) => v != null && v !== '').map(([k, v]) => `${k.padEnd(10)} ${shown(String(v))}`)
}

/** Turns `field=value` arguments into a PATCH body; `field=` clears a field. */
export function patchOf (assignments: string[], lock: string[] = [], unlock: string[] = []): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=')
    if (eq <= 0) throw new InvalidArgumentError(`expected field=value, got ${JSON.stringify(assignment)}`)
    const field = assignment.slice(0, eq)
    const value = assignment.slice(eq + 1)
    if (!(SETTABLE as readonly string[]).includes(field)) throw new InvalidArgumentError(`unknown field ${JSON.stringify(field)} (fields: ${SETTABLE.join(', ')})`)
    const target = field === 'imdb' || field === 'tmdb' || field === 'tvdb' ? ((body.ids ??= {}) as Record<string, unknown>) : body
    if (value === '') target[field] = null
    else if (NUMERIC.has(field) && /^\d+$/.test(value)) target[field] = Number(value)
    else target[field] = value
  }
  if (lock.length > 0) body.lock = lock
  if (unlock.length > 0) body.unlock = unlock
  return body
}

function matchLine (n: number, m: Match): string {
  return [String(n), m.provider, m.kind, m.id, shown(m.year == null ? m.title : `${m.title} (${m.year})`)].join('\t')
}

async function matches (client: ApiClient, id: string, options: { query?: string, year?: string }): Promise<{ kind: string, matches: Match[], errors: string[] }> {
  const params = new URLSearchParams()
  if (options.query != null) params.set('query', options.query)
  if (options.year != null) params.set('year', options.year)
  const q = params.toString()
  return await client.request('GET', `${media(id)}/matches${q === '' ? '' : `?${q}`}`)
}

/** The `meta` command and its verbs, for the `cidcast` program. */
export function metaCommand (defaultServer: string, io: MetaOutput = {}): Command {
  const out = (): NodeJS.WritableStream => io.out ?? process.stdout
  const err = (): NodeJS.WritableStream => io.err ?? process.stderr
  const meta = new Command('meta')
    .description('show, edit and identify the metadata of a media (title, year, series, ids...)')
    .option('--server <url>', 'main server URL (env CIDCAST_SERVER)', defaultServer)
  const client = (): ApiClient => createApiClient(meta.opts<{ server: string }>().server)

  meta.command('show')
    .description('print a media\'s metadata')
    .argument('<media-id>')
    .option('--json', 'print the JSON the API answers')
    .action(async (id: string, opts: { json?: boolean }) => {
      const m = await client().request<MediaMetadataView>('GET', `${media(id)}/metadata`)
      out().write(opts.json === true ? `${JSON.stringify(m, null, 2)}\n` : `${metadataLines(id, m).join('\n')}\n`)
    })

  meta.command('set')
    .description(`edit fields (${SETTABLE.join(', ')}); each edited field is locked against later identification; field= clears one`)
    .argument('<media-id>')
    .argument('[field=value...]')
    .option('--lock <field>', 'lock a field without changing it (repeatable)', collect)
    .option('--unlock <field>', 'let identification change a field again (repeatable)', collect)
    .action(async (id: string, assignments: string[], opts: { lock?: string[], unlock?: string[] }) => {
      const result = await client().request<{ metadata: MediaMetadataView, changes: Record<string, unknown>, nfo?: string, warnings: string[] }>('PATCH', `${media(id)}/metadata`, patchOf(assignments, opts.lock, opts.unlock))
      const changed = Object.keys(result.changes)
      out().write(`${changed.length === 0 ? 'unchanged' : `updated ${changed.join(', ')}`}: ${id} ${shown(result.metadata.title)}\n`)
      if (result.nfo != null) out().write(`wrote ${shown(result.nfo)}\n`)
      for (const warning of result.warnings) err().write(`warning: ${warning}\n`)
    })

  meta.command('identify')
    .description('list provider matches for a media, or apply one (--pick N, --match provider:id), or re-run identification (--auto)')
    .argument('<media-id>')
    .option('--query <text>', 'search for this title instead of the media\'s own')
    .option('--year <year>', 'search for this year')
    .option('--pick <n>', 'apply match number N of the list')
    .option('--match <provider:id>', 'apply this match, e.g. tmdb:603')
    .option('--auto', 'identify again from NFO, providers and path')
    .action(async (id: string, opts: { query?: string, year?: string, pick?: string, match?: string, auto?: boolean }) => {
      const api = client()
      let match: { provider: string, kind: string, id: string } | undefined
      if (opts.match != null) {
        const [provider, ...rest] = opts.match.split(':')
        if (provider === '' || rest.length === 0) throw new InvalidArgumentError('--match must be provider:id, e.g. tmdb:603')
        const current = await api.request<MediaMetadataView>('GET', `${media(id)}/metadata`)
        match = { provider, kind: current.kind === 'episode' ? 'series' : 'movie', id: rest.join(':') }
      } else if (opts.pick != null) {
        const list = await matches(api, id, opts)
        const n = Number(opts.pick)
        const picked = Number.isInteger(n) ? list.matches[n - 1] : undefined
        if (picked == null) throw new InvalidArgumentError(`--pick must be a number from 1 to ${list.matches.length}`)
        match = { provider: picked.provider, kind: picked.kind, id: picked.id }
      } else if (opts.auto !== true) {
        const list = await matches(api, id, opts)
        list.matches.forEach((m, i) => out().write(`${matchLine(i + 1, m)}\n`))
        for (const e of list.errors) err().write(`warning: ${e}\n`)
        if (list.matches.length === 0) err().write('no matches\n')
        return
      }
      const result = await api.request<{ metadata: MediaMetadataView, changes: Record<string, unknown>, errors: string[] }>('POST', `${media(id)}/identify`, match == null ? undefined : { match })
      for (const e of result.errors) err().write(`warning: ${e}\n`)
      out().write(`${metadataLines(id, result.metadata).join('\n')}\n`)
    })

  meta.command('history')
    .description('print every change to a media\'s metadata: entry, time, who, what, fields')
    .argument('<media-id>')
    .action(async (id: string) => {
      const { items } = await client().request<{ items: AuditEntry[] }>('GET', `${media(id)}/metadata/history`)
      for (const e of items) {
        const fields = Object.entries(e.changes).map(([field, c]) => `${field}: ${shown(JSON.stringify(c?.from ?? null))} -> ${shown(JSON.stringify(c?.to ?? null))}`)
        out().write(`${e.id}\t${new Date(e.at).toISOString()}\t${e.actor}\t${e.action}${e.reverts == null ? '' : ` #${e.reverts}`}\t${fields.join('; ')}\n`)
      }
    })

  meta.command('revert')
    .description('set back every field an audit entry changed (see meta history)')
    .argument('<media-id>')
    .argument('<entry>')
    .action(async (id: string, entry: string) => {
      if (!/^\d+$/.test(entry)) throw new InvalidArgumentError('entry must be a number from meta history')
      const result = await client().request<{ metadata: MediaMetadataView, changes: Record<string, unknown> }>('POST', `${media(id)}/metadata/history/${entry}/revert`)
      out().write(`reverted ${entry} (${Object.keys(result.changes).join(', ') || 'nothing to change'}): ${id} ${shown(result.metadata.title)}\n`)
    })

  return meta
}
