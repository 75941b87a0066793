import test from 'ava'
import { hasMedia, wholeBoxes } from '../../../core/media/session.ts'

/** One MP4 box: a 32-bit size, a four-letter type and `body` bytes. */
function box (type: string, body = 0): Buffer {
  const bytes = Buffer.alloc(8 + body, 1)
  bytes.writeUInt32BE(8 + body, 0)
  bytes.write(type, 4, 'latin1')
  return bytes
}

test('a fragment is whole only when its boxes run end to end; one ffmpeg cut short on a full disk is not', t => {
  const fragment = Buffer.concat([box('styp', 16), box('moof', 100), box('mdat', 5000)])
  t.true(wholeBoxes(fragment))
  t.true(hasMedia(fragment))
  // what a full disk leaves: an empty file, a piece cut inside its mdat, a header cut in two
  t.false(wholeBoxes(Buffer.alloc(0)))
  const cut = fragment.subarray(0, fragment.byteLength - 1000)
  t.false(wholeBoxes(cut))
  t.true(hasMedia(cut), 'hasMedia alone would have taken the cut piece for a segment')
  t.false(wholeBoxes(fragment.subarray(0, 24 + 108 + 4)))
  // a box of size 0 runs to the end of the file, and a 64-bit size is read as such
  const toEnd = box('mdat', 40)
  toEnd.writeUInt32BE(0, 0)
  t.true(wholeBoxes(Buffer.concat([box('moof', 10), toEnd])))
  const large = Buffer.alloc(16 + 30, 2)
  large.writeUInt32BE(1, 0)
  large.write('mdat', 4, 'latin1')
  large.writeBigUInt64BE(46n, 8)
  t.true(wholeBoxes(Buffer.concat([box('moof', 10), large])))
  t.false(wholeBoxes(Buffer.concat([box('moof', 10), large.subarray(0, 40)])))
})
