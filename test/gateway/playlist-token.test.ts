import test from 'ava'
import { carryToken, urlWithToken } from '../../gateway/access/playlist-token.ts'
import { masterPlaylist, mediaPlaylist } from '../../core/hls/index.ts'

const TOKEN = 'AQ-_token'

test('a master playlist carries the token to every variant playlist', t => {
  const variant = (name: string, height: number): Parameters<typeof masterPlaylist>[0][number] => ({ profile: { name }, width: height * 16 / 9, height, bandwidth: height * 1000, codecs: 'avc1.64001f,mp4a.40.2' })
  const master = masterPlaylist([variant('720p', 720), variant('360p', 360)])
  const carried = carryToken(master, TOKEN)
  const uris = carried.split('\n').filter(l => l !== '' && !l.startsWith('#'))
  t.deepEqual(uris, ['720p/index.m3u8?token=AQ-_token', '360p/index.m3u8?token=AQ-_token'])
  // every tag line is as it was
  t.deepEqual(carried.split('\n').filter(l => l.startsWith('#')), master.split('\n').filter(l => l.startsWith('#')))
})

test('a media playlist carries it to the init segment and every segment, and nothing else changes', t => {
  const playlist = mediaPlaylist({ durations: [2, 2, 2, 0.5] })
  const carried = carryToken(playlist, TOKEN)
  t.true(carried.includes('#EXT-X-MAP:URI="init.mp4?token=AQ-_token"'))
  t.deepEqual(carried.split('\n').filter(l => l.endsWith('.m4s?token=AQ-_token')), ['0.m4s?token=AQ-_token', '1.m4s?token=AQ-_token', '2.m4s?token=AQ-_token', '3.m4s?token=AQ-_token'])
  t.is(carried.replaceAll('?token=AQ-_token', ''), playlist, 'take the token away and it is the same playlist, byte for byte')
})

test('absolute URIs keep no token (another host never sees it); queries, fragments and CRLF lines are kept', t => {
  const text = [
    '#EXTM3U',
    '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k?x=1"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"',
    '#EXTINF:2.0,',
    'https://cdn.example/0.m4s',
    '#EXTINF:2.0,',
    '//cdn.example/1.m4s',
    '#EXTINF:2.0,',
    '2.m4s?part=1#t=0',
    '# a comment with URI="x"',
    '  3.m4s  ',
    ''
  ].join('\r\n')
  const lines = carryToken(text, TOKEN).split('\r\n')
  t.is(lines[1], '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k?x=1"')
  t.is(lines[2], '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8?token=AQ-_token"')
  t.is(lines[4], 'https://cdn.example/0.m4s')
  t.is(lines[6], '//cdn.example/1.m4s')
  t.is(lines[8], '2.m4s?part=1&token=AQ-_token#t=0')
  t.is(lines[9], '# a comment with URI="x"')
  t.is(lines[10], '  3.m4s?token=AQ-_token  ')
  t.is(lines.length, 12)
})

test('a redirect keeps the token unless its URL already has one', t => {
  t.is(urlWithToken('http://origin/media/x/360p/0.m4s', TOKEN), 'http://origin/media/x/360p/0.m4s?token=AQ-_token')
  t.is(urlWithToken('http://origin/ipfs/bafy?format=raw', TOKEN), 'http://origin/ipfs/bafy?format=raw&token=AQ-_token')
  t.is(urlWithToken('http://origin/ipfs/bafy?format=raw&token=other', TOKEN), 'http://origin/ipfs/bafy?format=raw&token=other')
})
