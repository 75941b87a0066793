import { createAccounts } from '../core/access/index.ts'
import { createCatalog } from '../core/catalog/index.ts'
import { loadServerConfig } from '../core/config/index.ts'
import { silentLogger } from '../core/logger.ts'
import type { User } from '../core/access/index.ts'

/**
 * `cidcast init`'s second half: opens the data folder's catalog (creating it; `database` as the server would read it)
 * and makes the first admin when it has no user. Loaded only by `init`: it brings TypeORM, which other client verbs
 * do not pay for.
 */
export async function ensureFirstAdmin (data: string): Promise<{ user: User, password: string } | undefined> {
  const { database } = await loadServerConfig({ data })
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  try {
    return await createAccounts({ repository: catalog.repositories.access, logger: silentLogger() }).ensureFirstAdmin()
  } finally {
    await catalog.stop()
  }
}
