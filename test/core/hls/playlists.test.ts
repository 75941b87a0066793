import test from 'ava'
import { masterPlaylist, masterProfiles, masterWithOnly, mediaPlaylist } from '../../../core/hls/playlists.ts'
import type { PlaylistVariant } from '../../../core/hls/playlists.ts'

const VIDEO: PlaylistVariant = { profile: { name: '720p' }, width: 1280, height: 720, bandwidth: 3_500_000, codecs: 'avc1.64001f,mp4a.40.2' }
const SD: PlaylistVariant = { profile: { name: '360p' }, width: 640, height: 360, bandwidth: 800_000, codecs: 'avc1.64001e,mp4a.40.2' }
const AUDIO: PlaylistVariant = { profile: { name: 'audio' }, width: 0, height: 0, bandwidth: 160_000, codecs: 'mp4a.40.2' }

test('a media playlist is VOD and lists every segment of the grid from the start', t => {
  const media = mediaPlaylist({ durations: [2, 2, 1.5] })
  t.regex(media, /#EXT-X-PLAYLIST-TYPE:VOD/)
  t.regex(media, /#EXT-X-MAP:URI="init\.mp4"/)
  t.regex(media, /#EXT-X-TARGETDURATION:2\n/)
  t.regex(media, /#EXTINF:2\.000000,\n0\.m4s\n#EXTINF:2\.000000,\n1\.m4s\n#EXTINF:1\.500000,\n2\.m4s\n#EXT-X-ENDLIST\n$/)
})

test('a master playlist names each variant and gives an audio-only one no resolution', t => {
  const master = masterPlaylist([VIDEO, AUDIO])
  t.regex(master, /BANDWIDTH=3500000,CODECS="avc1\.64001f,mp4a\.40\.2",RESOLUTION=1280x720,NAME="720p"\n720p\/index\.m3u8\n/)
  t.regex(master, /BANDWIDTH=160000,CODECS="mp4a\.40\.2",NAME="audio"\naudio\/index\.m3u8\n$/)
})

test('a master playlist keeps only the variants asked for, every other line as it was, also with a token in its URIs', t => {
  const master = masterPlaylist([VIDEO, SD, AUDIO])
  t.deepEqual(masterProfiles(master), ['720p', '360p', 'audio'])
  const kept = masterWithOnly(master, profile => profile !== '360p')
  t.is(kept, masterPlaylist([VIDEO, AUDIO]), 'the same text as a master written for those two')
  const signed = master.replaceAll('/index.m3u8', '/index.m3u8?token=abc')
  t.deepEqual(masterProfiles(signed), ['720p', '360p', 'audio'])
  t.deepEqual(masterProfiles(masterWithOnly(signed, profile => profile === '360p')), ['360p'])
  t.deepEqual(masterProfiles(masterWithOnly(master, () => false)), [])
})
