import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'
import cidcast from './lint/import-boundaries.js'

export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: [...resolveIgnoresFromGitignore(), 'client/public/vendor/**']
  }),
  {
    rules: {
      // `void promise` marks a deliberate fire-and-forget; everything else awaits
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // core <- gateway <- node, client: core types only, rooms of core/ through their entry files (ARCHITECTURE.md)
    plugins: { cidcast },
    rules: { 'cidcast/import-boundaries': 'error' }
  }
]
