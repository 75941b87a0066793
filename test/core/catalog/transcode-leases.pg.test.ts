import { useDialect } from '../../helpers/database.ts'

// transcode-leases.test.ts on PostgreSQL: two pools on one database claim at once
useDialect('postgres')
await import('./transcode-leases.test.ts')
