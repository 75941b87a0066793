import { importer } from 'ipfs-unixfs-importer'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import type { ExecutionContext } from 'ava'
import type { CID } from 'multiformats/cid'

/*
 * What fault tests check served bytes with: the CID the bytes hash to (so "nothing wrong is served" is tested
 * against the content address, not against another answer of the same server), and the top-level MP4 boxes of a
 * segment (so a segment cut short by a killed ffmpeg cannot pass for a whole one).
 */

/** The CID of `bytes` under the import profile, stored nowhere. */
export async function cidOfBytes (bytes: Uint8Array): Promise<CID> {
  let root: CID | undefined
  for await (const entry of importer([{ content: bytes }], { async put (cid: CID) { return cid } }, { ...IMPORT_OPTIONS })) root = entry.cid
  if (root == null) throw new Error('the importer yielded nothing')
  return root
}

/** The top-level box types of an MP4 file or fragment, or undefined when a box runs past the end (a cut file). */
export function boxTypes (bytes: Uint8Array): string[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const types: string[] = []
  for (let at = 0; at < bytes.byteLength;) {
    if (at + 8 > bytes.byteLength) return undefined
    const small = view.getUint32(at)
    const size = small === 1 && at + 16 <= bytes.byteLength ? Number(view.getBigUint64(at + 8)) : small
    if (size < 8 || at + size > bytes.byteLength) return undefined
    types.push(String.fromCharCode(...bytes.subarray(at + 4, at + 8)))
    at += size
  }
  return types
}

/** The CID an Etag names (`"bafy..."`, weak or strong). */
export function etagCid (etag: string | null): string | undefined {
  return etag?.replace(/^W\//, '').replaceAll('"', '') ?? undefined
}

/** One file of a rendition as a player fetched it. */
export interface PlayedFile {
  file: string
  status: number
  /** The CID its Etag names. */
  etag: string | undefined
  /** The CID its bytes hash to. */
  cid: string
  bytes: Buffer
  /** JSON error body of a failed answer. */
  error?: { error: string, message: string }
}

/** The files a media playlist names (`URI="..."` attributes first, then URI lines), relative as written. */
export function playlistFiles (text: string): string[] {
  const files: string[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) files.push(...[...line.matchAll(/URI="([^"]*)"/g)].map(m => m[1]))
    else if (line.trim() !== '') files.push(line.trim())
  }
  return files
}

/** GETs `url` and hashes what came back. */
export async function fetchFile (url: string, headers: Record<string, string> = {}): Promise<PlayedFile> {
  const res = await fetch(url, { headers })
  const bytes = Buffer.from(await res.arrayBuffer())
  const error = res.headers.get('content-type')?.includes('json') === true && res.status >= 400 ? JSON.parse(bytes.toString('utf8')) as { error: string, message: string } : undefined
  return { file: new URL(url).pathname.split('/').pop() ?? '', status: res.status, etag: etagCid(res.headers.get('etag')), cid: (await cidOfBytes(bytes)).toString(), bytes, error }
}

/** Plays a media playlist as a player would: the playlist, then every file it names, in order. */
export async function playRendition (playlistUrl: string, headers: Record<string, string> = {}): Promise<PlayedFile[]> {
  const res = await fetch(playlistUrl, { headers })
  if (res.status !== 200) throw new Error(`GET ${playlistUrl} answered ${res.status}: ${await res.text()}`)
  const files = playlistFiles(await res.text())
  const played: PlayedFile[] = []
  for (const file of files) played.push(await fetchFile(new URL(file, playlistUrl).toString(), headers))
  return played
}

/** Every file served whole: a 200, bytes that hash to the CID of its Etag, and whole MP4 boxes with media in each segment. */
export function assertWhole (t: ExecutionContext, played: PlayedFile[], where: string): void {
  for (const file of played) {
    t.is(file.status, 200, `${where} ${file.file}: ${JSON.stringify(file.error)}`)
    t.is(file.etag, file.cid, `${where} ${file.file} hashes to the CID it is served as`)
    const boxes = boxTypes(file.bytes)
    t.not(boxes, undefined, `${where} ${file.file} is made of whole boxes`)
    if (file.file.endsWith('.m4s')) t.true(boxes?.includes('moof') === true && boxes.includes('mdat'), `${where} ${file.file} holds a fragment`)
  }
}
