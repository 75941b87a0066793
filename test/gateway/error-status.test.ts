import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Koa from 'koa'
import test from 'ava'
import { CidcastError } from '../../core/errors.ts'
import { ERROR_STATUS } from '../../gateway/middleware/error-status.ts'
import { errors } from '../../gateway/middleware/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { listenHttp } from '../../node/http-listener.ts'

const CORE = fileURLToPath(new URL('../../core/', import.meta.url))

/** Every error class exported by a module under core/, with the file that exports it. */
async function coreErrorClasses (): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const files = (await readdir(CORE, { recursive: true })).filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  for (const file of files.sort()) {
    const exports = await import(pathToFileURL(join(CORE, file)).href) as Record<string, unknown>
    for (const value of Object.values(exports)) {
      if (typeof value === 'function' && value.prototype instanceof Error && value !== CidcastError) {
        // the name an instance carries is what the middleware reads
        const name = (Reflect.construct(value, ['probe']) as Error).name
        if (!found.has(name)) found.set(name, relative(CORE, join(CORE, file)))
      }
    }
  }
  return found
}

test('every error class core exports maps to a deliberate HTTP status, and the table names no class that is gone', async t => {
  const classes = await coreErrorClasses()
  t.true(classes.size > 40, `found only ${classes.size} error classes under core/`)
  const unmapped = [...classes].filter(([name]) => ERROR_STATUS[name] == null).map(([name, file]) => `${name} (${file})`)
  t.deepEqual(unmapped, [], 'add these to gateway/middleware/error-status.ts')
  const stale = Object.keys(ERROR_STATUS).filter(name => !classes.has(name))
  t.deepEqual(stale, [], 'the table names classes core no longer exports')
})

test('a core error becomes its status with a JSON body naming it; a 5xx body hides the message', async t => {
  const { RenditionNotFoundError, IncompleteRenditionError, CatalogNotStartedError } = await import('../../core/catalog/errors.ts')
  const thrown: Record<string, Error> = {
    '/rendition': new RenditionNotFoundError('no rendition abc'),
    '/incomplete': new IncompleteRenditionError('segment 3 is missing'),
    '/stopping': new CatalogNotStartedError('catalog stopped at /secret/path'),
    '/plain': new Error('database file /secret/path is corrupt')
  }
  const app = new Koa()
  app.use(errors(silentLogger()))
  app.use(ctx => { throw thrown[ctx.path] })
  const { address, close } = await listenHttp(app, '127.0.0.1:0')
  t.teardown(close)
  const url = `http://127.0.0.1:${address.port}`
  const answer = async (path: string): Promise<[number, unknown]> => {
    const res = await fetch(url + path)
    return [res.status, await res.json()]
  }
  t.deepEqual(await answer('/rendition'), [404, { error: 'RenditionNotFoundError', message: 'no rendition abc' }])
  t.deepEqual(await answer('/incomplete'), [409, { error: 'IncompleteRenditionError', message: 'segment 3 is missing' }])
  t.deepEqual(await answer('/stopping'), [503, { error: 'InternalError', message: 'internal error' }])
  t.deepEqual(await answer('/plain'), [500, { error: 'InternalError', message: 'internal error' }])
})

test('an error relayed with its own 4xx status keeps its name and status', async t => {
  const relayed = Object.defineProperties(new CidcastError('no such thing'), {
    name: { value: 'SomethingNewError' },
    status: { value: 410 }
  })
  const app = new Koa()
  app.use(errors(silentLogger()))
  app.use(() => { throw relayed })
  const { address, close } = await listenHttp(app, '127.0.0.1:0')
  t.teardown(close)
  const url = `http://127.0.0.1:${address.port}`
  const res = await fetch(url)
  t.is(res.status, 410)
  t.deepEqual(await res.json(), { error: 'SomethingNewError', message: 'no such thing' })
})
