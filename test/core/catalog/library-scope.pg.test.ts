import { useDialect } from '../../helpers/database.ts'

// library-scope.test.ts on PostgreSQL: each catalog gets a database of its own on the test process's server
useDialect('postgres')
await import('./library-scope.test.ts')
