import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

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
  }
]
