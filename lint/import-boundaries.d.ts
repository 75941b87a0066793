import type { ESLint } from 'eslint'

/** The local plugin eslint.config.js loads: `cidcast/import-boundaries`. */
declare const plugin: ESLint.Plugin
export default plugin
