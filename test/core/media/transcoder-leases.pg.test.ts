import { useDialect } from '../../helpers/database.ts'

// transcoder-leases.test.ts on PostgreSQL: two servers' catalogs are two pools on one database
useDialect('postgres')
await import('./transcoder-leases.test.ts')
