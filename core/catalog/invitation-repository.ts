import { NodeInvitationRow } from './access-entities.ts'
import type { RunExclusive } from './exclusive.ts'

/** A node invitation as kept (times in epoch milliseconds); only the SHA-256 of its secret. */
export interface InvitationRecord {
  id: string
  secretHash: string
  name: string | null
  mode: 'shared' | 'local'
  owner: string | null
  createdBy: string | null
  createdAtMs: number
  expiresAtMs: number
  spentAtMs: number | null
  spentBy: string | null
  revokedAtMs: number | null
}

/** Node invitations in the catalog's database (table `node_invitations`). */
export interface InvitationRepository {
  /** Every invitation, newest first. */
  all (): Promise<InvitationRecord[]>
  add (record: InvitationRecord): Promise<void>
  /**
   * Reads the invitation `id` and writes what `change` makes of it, on the write queue: no other change comes
   * between (two nodes spending one invitation at once: one wins). `change` returns the new record, or throws.
   */
  update (id: string, change: (record: InvitationRecord | undefined) => InvitationRecord): Promise<InvitationRecord>
}

/** The invitation repository on the catalog's write queue. */
export function createInvitationRepository (exclusive: RunExclusive): InvitationRepository {
  return {
    async all () {
      const rows = await exclusive(async db => db.getRepository(NodeInvitationRow).find({ order: { createdAt: 'DESC', id: 'ASC' } }))
      return rows.map(toRecord)
    },
    async add (record) {
      await exclusive(async db => { await db.getRepository(NodeInvitationRow).insert(toRow(record)) })
    },
    async update (id, change) {
      return await exclusive(async db => {
        const repo = db.getRepository(NodeInvitationRow)
        const row = await repo.findOneBy({ id })
        const next = change(row == null ? undefined : toRecord(row))
        await repo.save(toRow(next))
        return next
      })
    }
  }
}

function toRecord (row: NodeInvitationRow): InvitationRecord {
  return {
    id: row.id,
    secretHash: row.secretHash,
    name: row.name,
    mode: row.mode === 'local' ? 'local' : 'shared',
    owner: row.owner,
    createdBy: row.createdBy,
    createdAtMs: row.createdAt,
    expiresAtMs: row.expiresAt,
    spentAtMs: row.spentAt,
    spentBy: row.spentBy,
    revokedAtMs: row.revokedAt
  }
}

function toRow (record: InvitationRecord): NodeInvitationRow {
  const row = new NodeInvitationRow()
  row.id = record.id
  row.secretHash = record.secretHash
  row.name = record.name
  row.mode = record.mode
  row.owner = record.owner
  row.createdBy = record.createdBy
  row.createdAt = record.createdAtMs
  row.expiresAt = record.expiresAtMs
  row.spentAt = record.spentAtMs
  row.spentBy = record.spentBy
  row.revokedAt = record.revokedAtMs
  return row
}
