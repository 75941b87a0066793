import test from 'ava'
import { checkNodeName, isLabel, labelFromName, uniqueLabel } from '../../../core/control/labels.ts'

const CASES: Array<[string, string]> = [
  ['edge-1', 'edge-1'],
  ['My Home Node', 'my-home-node'],
  ['<script>alert(1)</script>', 'script-alert-1-script'],
  ['../x', 'x'],
  ['../../etc/passwd', 'etc-passwd'],
  ['a.b.c', 'a-b-c'],
  ['.hidden.', 'hidden'],
  ['---', 'node'],
  ['', 'node'],
  ['   ', 'node'],
  ['Café Zürich', 'cafe-zurich'],
  ['Ærøskøbing straße', 'aeroskobing-strasse'],
  ['ŁÓDŹ', 'lodz'],
  ['東京', 'node'],
  ['東京 edge', 'edge'],
  ['Москва-1', '1'],
  ['🎬 films 🎬', 'films'],
  ['ＷＩＤＥ', 'wide'],
  ['x'.repeat(300), 'x'.repeat(63)],
  [`${'a'.repeat(62)}.b`, 'a'.repeat(62)],
  ['UPPER_case__name', 'upper-case-name'],
  ['xn--punycode', 'xn-punycode']
]

for (const [name, label] of CASES) {
  test(`the name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}...(${name.length})` : name)} becomes the label ${JSON.stringify(label.length > 20 ? `${label.slice(0, 10)}...(${label.length})` : label)}`, t => {
    const result = labelFromName(name)
    t.is(result, label)
    t.true(isLabel(result))
  })
}

test('a name longer than 300 characters is refused with a clear error', t => {
  const err = t.throws(() => labelFromName('x'.repeat(301)))
  t.is(err?.name, 'InvalidNodeNameError')
  t.regex(err?.message ?? '', /301 characters long; at most 300/)
  // characters, not UTF-16 units: 300 emoji are 600 units and still allowed
  t.is(labelFromName('🎬'.repeat(300)), 'node')
})

test('names with control or bidi-override characters are refused', t => {
  for (const name of ['bad\nname', 'tab\there', 'nul\u0000', 'del\u007f', 'c1\u0085', 'evil\u202eexe.mp4', 'iso\u2066x']) {
    const err = t.throws(() => checkNodeName(name), undefined, JSON.stringify(name))
    t.is(err?.name, 'InvalidNodeNameError')
  }
  t.is(t.throws(() => checkNodeName(42))?.name, 'InvalidNodeNameError')
})

test('colliding labels get -2, -3... and stay within 63 characters', t => {
  const taken = new Set(['edge', 'edge-2', 'a'.repeat(63)])
  t.is(uniqueLabel('edge', l => taken.has(l)), 'edge-3')
  t.is(uniqueLabel('fresh', l => taken.has(l)), 'fresh')
  const long = uniqueLabel('a'.repeat(63), l => taken.has(l))
  t.is(long, `${'a'.repeat(61)}-2`)
  t.true(isLabel(long))
  // a cut that ends in '-' loses it rather than doubling it
  const dashed = `${'a'.repeat(60)}-bc`
  t.is(uniqueLabel(dashed, l => l === dashed), `${'a'.repeat(60)}-2`)
})

test('reserved labels are never handed out', t => {
  t.is(uniqueLabel('ns', () => false), 'ns-2')
  t.is(uniqueLabel('localhost', () => false), 'localhost-2')
})
