import test from 'ava'
import { clampServed, MAX_NODE_UPLINK_BYTES_PER_SECOND } from '../../../core/control/served-clamp.ts'
import { parseControlRequest, parseServedReport } from '../../../core/control/validate.ts'
import { MAX_SERVED_REPORTS } from '../../../core/control/index.ts'
import type { HeartbeatRequest, ServedReport } from '../../../core/control/index.ts'

const ROOT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const OTHER = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const MEDIA = '0123456789abcdef'
const NOW = 1_800_000_000_000
const HEARTBEAT = {
  type: 'heartbeat',
  capacity: { quotaBytes: 10, usedBytes: 1, freeBytes: 9 },
  health: { uptimeSeconds: 5, load1: 0.25, activeStreams: 1, bytesServed: 1234, errors: 0, full: false },
  pinned: [ROOT]
}

/** A served report of `root` with sensible counts, overridden field by field. */
function report (overrides: Partial<ServedReport> = {}): ServedReport {
  return { root: ROOT, requests: 4, bytes: 3000, local: 2000, peer: 0, origin: 1000, redirects: 0, viewers: 2, firstAt: NOW - 5000, lastAt: NOW - 1000, ...overrides }
}

test('a heartbeat carries served reports of roots and of media with or without a profile, field by field', t => {
  const served = [
    report(),
    { media: MEDIA, profile: '360p', requests: 1, bytes: 0, local: 0, peer: 0, origin: 0, redirects: 1, viewers: 1, firstAt: NOW, lastAt: NOW },
    { media: MEDIA, requests: 2, bytes: 900, local: 0, peer: 0, origin: 900, redirects: 0, viewers: 1, firstAt: NOW, lastAt: NOW }
  ]
  const request = parseControlRequest({ ...HEARTBEAT, served: served.map(r => ({ ...r, extra: 'dropped' })) }) as HeartbeatRequest
  t.deepEqual(request.served, served)
  t.false('served' in parseControlRequest(HEARTBEAT), 'none: none')
})

test('served reports with a bad root, media, profile or count are refused, as are too many', t => {
  const bad: Array<[unknown, RegExp]> = [
    [report({ root: 'not a cid' }), /root is not a CID/],
    [{ ...report(), root: undefined }, /must name a root or a media/],
    [{ ...report(), root: undefined, media: '../../etc/passwd' }, /media must be a media id/],
    [{ ...report(), root: undefined, media: MEDIA, profile: '../360p' }, /profile is not a profile name/],
    [{ ...report(), profile: '360p' }, /profile needs a media/],
    [{ ...report(), media: MEDIA }, /a root or a media, not both/],
    [report({ requests: -1 }), /requests must be a whole number/],
    [report({ bytes: 1.5 }), /bytes must be a whole number/],
    [report({ local: Number.MAX_SAFE_INTEGER + 1 }), /local must be a whole number/],
    [report({ origin: Number.POSITIVE_INFINITY }), /origin must be a whole number/],
    [{ ...report(), viewers: '2' }, /viewers must be a whole number/],
    [{ ...report(), lastAt: undefined }, /lastAt must be a whole number/],
    ['a report', /must be an object/]
  ]
  for (const [value, message] of bad) {
    t.throws(() => parseServedReport(value), { name: 'InvalidControlMessageError', message }, JSON.stringify(value)?.slice(0, 100))
    t.throws(() => parseControlRequest({ ...HEARTBEAT, served: [value] }), { name: 'InvalidControlMessageError' })
  }
  t.throws(() => parseControlRequest({ ...HEARTBEAT, served: Array(MAX_SERVED_REPORTS + 1).fill(report()) }), { name: 'InvalidControlMessageError', message: /at most 512/ })
  t.throws(() => parseControlRequest({ ...HEARTBEAT, served: report() }), { name: 'InvalidControlMessageError', message: /served must be an array/ })
})

test('sensible reports pass the clamp as they are', t => {
  const reports = [report(), report({ root: undefined, media: MEDIA, profile: '360p', local: 0, bytes: 1000 })]
  t.deepEqual(clampServed(reports, { pinned: new Set([ROOT]), now: NOW, windowMs: 30_000 }), reports)
})

test('local bytes of a root the node does not report holding count as 0, and bytes are the sum of their sources', t => {
  const [notHeld, media, inflated] = clampServed([
    report({ root: OTHER }),
    report({ root: undefined, media: MEDIA, profile: '360p' }),
    report({ bytes: 999_999 })
  ], { pinned: new Set([ROOT]), now: NOW, windowMs: 30_000 })
  t.like(notHeld, { root: OTHER, local: 0, origin: 1000, bytes: 1000 })
  t.like(media, { media: MEDIA, local: 0, bytes: 1000 }, 'a media whose root the node does not name is held by no pin it reports')
  t.like(inflated, { local: 2000, origin: 1000, bytes: 3000 }, 'bytes claimed beyond the sources are not taken')
})

test('bytes beyond what an uplink could send in the window are scaled down, redirects and viewers stay within requests', t => {
  const windowMs = 2000
  const cap = MAX_NODE_UPLINK_BYTES_PER_SECOND * 2
  const reports = clampServed([
    report({ local: 3 * cap, origin: cap, bytes: 4 * cap }),
    report({ root: OTHER, local: 0, origin: 4 * cap, bytes: 4 * cap, redirects: 10, viewers: 1_000_000 })
  ], { pinned: new Set([ROOT]), now: NOW, windowMs })
  const total = reports.reduce((sum, r) => sum + r.bytes, 0)
  t.true(total <= cap, `${total} bytes in ${windowMs} ms`)
  t.true(total > cap * 0.99, 'scaled, not zeroed')
  t.true(Math.abs(reports[0].bytes - reports[1].bytes) <= 2, 'both scaled alike')
  t.like(reports[1], { requests: 4, redirects: 4, viewers: 4 })
  for (const r of reports) t.is(r.bytes, r.local + r.peer + r.origin)
})

test('requests beyond what a node could answer are scaled down; times are kept inside the window; a repeated root is summed', t => {
  const [flood] = clampServed([report({ requests: Number.MAX_SAFE_INTEGER, viewers: Number.MAX_SAFE_INTEGER, redirects: 7 })], { pinned: new Set(), now: NOW, windowMs: 1000, requestsPerSecond: 100 })
  t.like(flood, { requests: 100, viewers: 100, redirects: 7 })
  const [times] = clampServed([report({ firstAt: 0, lastAt: NOW + 3_600_000 })], { pinned: new Set(), now: NOW, windowMs: 10_000 })
  t.like(times, { firstAt: NOW - 10_000, lastAt: NOW })
  const [swapped] = clampServed([report({ firstAt: NOW - 1000, lastAt: NOW - 9000 })], { pinned: new Set(), now: NOW, windowMs: 10_000 })
  t.true(swapped.firstAt <= swapped.lastAt)
  const twice = clampServed([report(), report()], { pinned: new Set([ROOT]), now: NOW, windowMs: 30_000 })
  t.is(twice.length, 1)
  t.like(twice[0], { requests: 8, local: 4000, origin: 2000, bytes: 6000 })
  const [nothing] = clampServed([report({ requests: 0 })], { pinned: new Set([ROOT]), now: NOW, windowMs: 30_000 })
  t.like(nothing, { bytes: 0, local: 0, origin: 0, viewers: 0 }, 'no bytes without an answer')
})
