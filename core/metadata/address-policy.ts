import { isIPv4, isIPv6 } from 'node:net'

/*
 * Which IP addresses a remote image may never come from: anything that is not a public unicast address.
 * IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address inside them, so no spelling gets through.
 */

type Range = readonly [base: number, bits: number, reason: string]

const V4: readonly Range[] = [
  [ip4('0.0.0.0'), 8, 'this-network'],
  [ip4('10.0.0.0'), 8, 'private'],
  [ip4('100.64.0.0'), 10, 'carrier-grade NAT'],
  [ip4('127.0.0.0'), 8, 'loopback'],
  [ip4('169.254.0.0'), 16, 'link-local'],
  [ip4('172.16.0.0'), 12, 'private'],
  [ip4('192.0.0.0'), 24, 'IETF protocol assignments'],
  [ip4('192.0.2.0'), 24, 'documentation'],
  [ip4('192.88.99.0'), 24, '6to4 relay'],
  [ip4('192.168.0.0'), 16, 'private'],
  [ip4('198.18.0.0'), 15, 'benchmarking'],
  [ip4('198.51.100.0'), 24, 'documentation'],
  [ip4('203.0.113.0'), 24, 'documentation'],
  [ip4('224.0.0.0'), 4, 'multicast'],
  [ip4('240.0.0.0'), 4, 'reserved']
]

function ip4 (text: string): number {
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

/** The eight 16-bit groups of an IPv6 address (dotted IPv4 tails and zone ids handled). */
export function ipv6Groups (text: string): number[] {
  let address = text.replace(/%.*$/, '').toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (dotted != null) {
    const v4 = ip4(dotted[1])
    address = address.slice(0, -dotted[1].length) + `${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail == null || tail === '' ? [] : tail.split(':')
  const fill = tail == null ? 0 : 8 - left.length - right.length
  const groups = [...left, ...Array<string>(Math.max(fill, 0)).fill('0'), ...right].map(g => parseInt(g, 16))
  if (groups.length !== 8 || groups.some(g => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`not an IPv6 address: ${text}`)
  return groups
}

function v4Reason (n: number): string | undefined {
  for (const [base, bits, reason] of V4) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    if (((n & mask) >>> 0) === ((base & mask) >>> 0)) return reason
  }
  if (n === 0xffffffff) return 'broadcast'
  return undefined
}

function v6Reason (g: number[]): string | undefined {
  const embedded = (hi: number, lo: number): number => ((hi << 16) >>> 0) + lo
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every(x => x === 0)
  if (zeros(0, 8)) return 'unspecified'
  if (zeros(0, 7) && g[7] === 1) return 'loopback'
  if (zeros(0, 5) && g[5] === 0xffff) {
    const reason = v4Reason(embedded(g[6], g[7]))
    return reason == null ? undefined : `IPv4-mapped ${reason}`
  }
  // IPv4-compatible (deprecated) and IPv4-translated forms: nothing legitimate uses them for an image host
  if (zeros(0, 6) || (zeros(0, 4) && g[4] === 0xffff && g[5] === 0)) return 'IPv4-compatible'
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) {
    const reason = v4Reason(embedded(g[6], g[7]))
    return reason == null ? undefined : `NAT64 ${reason}`
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'local-use NAT64'
  if (g[0] === 0x2002) {
    const reason = v4Reason(embedded(g[1], g[2]))
    return reason == null ? undefined : `6to4 ${reason}`
  }
  if (g[0] === 0x100 && zeros(1, 4)) return 'discard-only'
  if (g[0] === 0x2001 && g[1] < 0x200) return 'IETF protocol assignments (Teredo, ORCHID...)'
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'documentation'
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique-local'
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local'
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local'
  if ((g[0] & 0xff00) === 0xff00) return 'multicast'
  return undefined
}

/** Why `address` may not be connected to for a remote image, or undefined when it is a public unicast address. */
export function forbiddenAddress (address: string): string | undefined {
  if (isIPv4(address)) return v4Reason(ip4(address))
  if (isIPv6(address)) return v6Reason(ipv6Groups(address))
  return 'not an IP address'
}
