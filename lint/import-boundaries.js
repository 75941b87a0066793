import { existsSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/*
 * The import rule of ARCHITECTURE.md as a lint rule: imports point one way (core <- gateway <- node; client takes
 * only types from core), and a room of core/ that has an entry file (core/<room>/index.ts) is reached through it by
 * everything outside the room (tests may also reach behind it, to test a file on its own). Inside a room, files
 * import each other and never their own entry, which would make a circle.
 */

const ROOT = resolve(import.meta.dirname, '..')

/** What each top folder may import, besides itself; folders not named here (test, bench, fixtures, bin) may import anything. */
const MAY_IMPORT = {
  core: [],
  gateway: ['core'],
  node: ['core', 'gateway', 'client'],
  client: ['core']
}
/** Importers that may reach behind a room's entry file. */
const BEHIND_ENTRY_ALLOWED = new Set(['test', 'fixtures'])

const entries = new Map()
function hasEntry (room) {
  if (!entries.has(room)) entries.set(room, existsSync(join(ROOT, 'core', room, 'index.ts')))
  return entries.get(room)
}

function isTypeOnly (node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true
  const specifiers = node.specifiers ?? []
  return specifiers.length > 0 && specifiers.every(s => s.importKind === 'type' || s.exportKind === 'type')
}

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports point one way (core <- gateway <- node, client: core types only) and reach rooms of core/ through their entry files' },
    schema: [],
    messages: {
      direction: '{{from}}/ may not import {{to}}/ (imports point one way: core <- gateway <- node)',
      clientTypes: 'client/ takes only types from core/: use `import type`',
      behindEntry: 'import core/{{room}}/ through its entry file core/{{room}}/index.ts, not {{target}}',
      ownEntry: 'a file of core/{{room}}/ imports its neighbours directly, not the room\'s entry file (that makes a circle)'
    }
  },
  create (context) {
    const file = relative(ROOT, context.filename)
    if (file.startsWith('..')) return {}
    const [top, room] = file.split(sep)
    function check (node, source) {
      if (source == null || typeof source.value !== 'string' || !source.value.startsWith('.')) return
      const target = relative(ROOT, resolve(dirname(context.filename), source.value))
      const [targetTop, targetRoom, ...rest] = target.split(sep)
      const allowed = MAY_IMPORT[top]
      if (allowed != null && targetTop !== top && targetTop in MAY_IMPORT && !allowed.includes(targetTop)) {
        context.report({ node: source, messageId: 'direction', data: { from: top, to: targetTop } })
        return
      }
      if (top === 'client' && targetTop === 'core' && !isTypeOnly(node)) {
        context.report({ node: source, messageId: 'clientTypes' })
        return
      }
      // core/<room>/<file>: rooms are folders of core/, files at core/'s top (errors.ts, logger.ts...) are shared by all
      if (targetTop !== 'core' || rest.length === 0 || !hasEntry(targetRoom)) return
      const entry = rest.length === 1 && rest[0] === 'index.ts'
      const inside = top === 'core' && room === targetRoom
      if (inside && entry) context.report({ node: source, messageId: 'ownEntry', data: { room: targetRoom } })
      else if (!inside && !entry && !BEHIND_ENTRY_ALLOWED.has(top)) {
        context.report({ node: source, messageId: 'behindEntry', data: { room: targetRoom, target: target.split(sep).join('/') } })
      }
    }
    return {
      ImportDeclaration: node => { check(node, node.source) },
      ExportNamedDeclaration: node => { check(node, node.source) },
      ExportAllDeclaration: node => { check(node, node.source) },
      ImportExpression: node => { check(node, node.source) }
    }
  }
}

/** The local plugin eslint.config.js loads: `cidcast/import-boundaries`. */
export default { rules: { 'import-boundaries': rule } }
