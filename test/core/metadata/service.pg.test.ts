import { useDialect } from '../../helpers/database.ts'

// service.test.ts on PostgreSQL (search, series, collections, the audit trail): each catalog gets a database of its own
useDialect('postgres')
await import('./service.test.ts')
