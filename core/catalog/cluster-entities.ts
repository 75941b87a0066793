import { Column, Entity, PrimaryColumn } from 'typeorm'
import { bigintNumber } from './transformers.ts'

/*
 * Several main servers on one database (issue 15, item 2): each server's row, beaten every few seconds, so the others
 * (and nodes, through the control replies) know where every live server answers; and the stream signing keys the
 * servers share, so a token one signs verifies on the others and on every node. Same conventions as entities.ts.
 */

/** One main server on this database, as it last said. */
@Entity('main_servers')
export class MainServerRow {
  /** Its libp2p peer ID. */
  @PrimaryColumn('varchar', { name: 'peer_id', length: 128, primaryKeyConstraintName: 'pk_main_servers' })
  peerId!: string

  /** Where its HTTP API answers (`http://host:port`). */
  @Column('varchar', { length: 2048 })
  url!: string

  /** Its libp2p multiaddrs, as a JSON array. */
  @Column('text')
  addresses!: string

  /** Its DNS server's `host:port`, or null. */
  @Column('varchar', { length: 300, nullable: true })
  dns!: string | null

  @Column('varchar', { length: 64 })
  version!: string

  /** The fingerprint of its swarm key (16 hex digits of its SHA-256): servers of one catalog share one private network. */
  @Column('varchar', { length: 16 })
  swarm!: string

  @Column('bigint', { name: 'started_at', transformer: bigintNumber })
  startedAt!: number

  /** Its last beat, epoch milliseconds. */
  @Column('bigint', { name: 'seen_at', transformer: bigintNumber })
  seenAt!: number

  /** Since when it holds the leadership lock (core/catalog/leader-lock.ts), as its last beat said; null: it does not. */
  @Column('bigint', { name: 'leading_since', nullable: true, transformer: bigintNumber })
  leadingSince!: number | null
}

/** A stream signing key shared by the main servers of one database (core/access/signing-keys.ts). */
@Entity('stream_keys')
export class StreamKeyRow {
  @PrimaryColumn('varchar', { length: 64, primaryKeyConstraintName: 'pk_stream_keys' })
  id!: string

  /** Raw 32-byte Ed25519 public key, base64url. */
  @Column('varchar', { name: 'public_key', length: 64 })
  publicKey!: string

  /** The 32-byte private seed, base64url. */
  @Column('varchar', { name: 'private_key', length: 64 })
  privateKey!: string

  @Column('bigint', { name: 'created_at', transformer: bigintNumber })
  createdAt!: number

  @Column('bigint', { name: 'retired_at', nullable: true, transformer: bigintNumber })
  retiredAt!: number | null
}

/** The cluster's entities. */
export const CLUSTER_ENTITIES = [MainServerRow, StreamKeyRow]
