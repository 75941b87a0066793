import { useDialect } from '../helpers/database.ts'

// metadata.test.ts with the main server's catalog on PostgreSQL (a database of its own on the test process's server)
useDialect('postgres')
await import('./metadata.test.ts')
