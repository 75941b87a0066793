import test from 'ava'
import { checkMediaId, checkProfileName, checkRenditionFile, isMediaId, isProfileName, segmentIndex } from '../../../core/hls/names.ts'

test('a media id is 16 lower-case hex digits; anything else is MediaNotFoundError before any lookup', t => {
  t.true(isMediaId('0123456789abcdef'))
  for (const junk of ['0123456789ABCDEF', '0123456789abcde', '0123456789abcdef0', '../etc/passwd', 42]) t.false(isMediaId(junk), String(junk))
  t.is(checkMediaId('0123456789abcdef'), '0123456789abcdef')
  t.throws(() => checkMediaId('x'.repeat(500)), { name: 'MediaNotFoundError', message: `no media "${'x'.repeat(64)}"` })
})

test('a profile name is <short side>p or audio; anything else is ProfileNotFoundError', t => {
  for (const name of ['2p', '90p', '720p', '1080p', '4320p', 'audio']) t.true(isProfileName(name), name)
  for (const junk of ['0p', '02p', 'p', '10000p', '720', '720P', '..', 'audio2']) t.false(isProfileName(junk), junk)
  t.is(checkProfileName('720p'), '720p')
  t.throws(() => checkProfileName('720P'), { name: 'ProfileNotFoundError' })
})

test('a rendition file is its init segment or a segment spelled as playlists spell it', t => {
  t.is(segmentIndex('0.m4s'), 0)
  t.is(segmentIndex('1234567.m4s'), 1234567)
  for (const junk of ['01.m4s', '12345678.m4s', '-1.m4s', '1.mp4', 'init.mp4']) t.is(segmentIndex(junk), undefined, junk)
  t.is(checkRenditionFile('init.mp4'), 'init.mp4')
  t.is(checkRenditionFile('7.m4s'), '7.m4s')
  t.throws(() => checkRenditionFile('index.m3u8'), { name: 'SegmentNotFoundError' })
})
