/**
 * natal's vocabulary, once, precisely (see docs/CONCEPTS.md for the long form).
 *
 * - collection: a table whose rows are entities (`schema.table`; bare name in `public`).
 * - entity: one row of a collection.
 * - birth record: one row of `birth_registry`; its `entity_code` is unique in the registry.
 * - species: a kind of entity (`entity_species`), with the code prefix of its codes.
 * - species map: `species_collection_map`, which species a collection's entities are.
 * - governance role: `governed` (birth required), `staging` (deliberately not governed),
 *   `excluded`.
 * - origin (`dot_origin`): the tool or path that created an entity.
 * - identity strategy: how an entity's code is derived from its row.
 * - orphan: an entity with no birth record. phantom: a birth record with no entity.
 * - gap: rows − births for a collection; the set of orphans.
 * - ledger: `birth_backfill_ledger`, every PLAN / REHEARSAL / APPLY / ROLLBACK step.
 */

export type GovernanceRole = 'governed' | 'staging' | 'excluded';

export type IdentityStrategy = 'column' | 'synthetic_id' | 'legacy' | 'composite' | 'unclassified';

export type UnclassifiedReason = 'no-id' | 'needs-owner' | 'no-table' | 'duplicate-codes' | 'null-codes';

export type BirthOperation = 'catalog' | 'trigger' | 'gateway' | 'backfill' | 'import';

export type LedgerStep = 'PLAN' | 'REHEARSAL' | 'APPLY' | 'ROLLBACK';

/** Where a registry lives and which schema natal owns there. */
export interface RegistryOptions {
  /** PostgreSQL URL of a server (else NATAL_DATABASE_URL when `env` is given, else embedded). */
  db?: string | undefined;
  /** Embedded data directory (default `./.natal`), or `memory://`. */
  dataDir?: string | undefined;
  /** natal's schema (default `natal`); any identifier, quoted as needed. */
  schema?: string | undefined;
  /** Who is acting, on the embedded backend (on a server: the session's role; see actor()). */
  as?: string | undefined;
  /**
   * Embedded: make the database in `dataDir` when it holds none (`natal init` and the demo
   * do). Without it, opening a directory with no database fails with NOT_INITIALIZED and
   * makes nothing.
   */
  create?: boolean | undefined;
  /** Environment to read NATAL_DATABASE_URL from (the CLI passes process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Embedded: wait this long (ms; Infinity: until free) while another process has the data directory. */
  wait?: number | undefined;
  /** Told once, with why, when it waits. */
  onWait?: ((why: string) => void) | undefined;
  /** Server: at most this many connections at once (default 10). */
  connections?: number | undefined;
}
