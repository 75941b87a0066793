// Preloaded with `node --import=<this file>`: records the URL of every module the process loads, built-ins and
// TypeScript sources alike (module.registerHooks runs in the process itself, ahead of tsx's hooks), and writes them
// one a line to the file named by RECORD_LOADS_TO when the process exits, however it exits (process.exit included).
import { writeFileSync } from 'node:fs'
import { registerHooks } from 'node:module'

const out = process.env.RECORD_LOADS_TO
if (out != null && out !== '') {
  const loaded = new Set()
  registerHooks({
    load (url, context, nextLoad) {
      loaded.add(url)
      return nextLoad(url, context)
    }
  })
  process.on('exit', () => { writeFileSync(out, [...loaded].join('\n') + '\n') })
}
