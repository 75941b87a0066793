/*
 * The little of `pg` (node-postgres, TypeORM's PostgreSQL driver) the test helpers use as a value, typed by hand: the
 * package ships no types and @types/pg is not a dependency.
 */
declare module 'pg' {
  export interface QueryResult<R = Record<string, unknown>> {
    rows: R[]
    rowCount: number | null
  }

  export class Client {
    constructor (config: { connectionString: string })
    connect (): Promise<void>
    query<R = Record<string, unknown>> (text: string, values?: unknown[]): Promise<QueryResult<R>>
    end (): Promise<void>
  }

  const pg: { Client: typeof Client }
  export default pg
}
