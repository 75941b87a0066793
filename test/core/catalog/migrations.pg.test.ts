import { useDialect } from '../../helpers/database.ts'

// migrations.test.ts on PostgreSQL: each catalog gets a database of its own on the test process's server
useDialect('postgres')
await import('./migrations.test.ts')
