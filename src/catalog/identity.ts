/** Identity: how each collection's entity codes are derived, proposed from the data or set by its owner. */
import type { Ctx } from '../context.js';
import { assertIdentifier } from '../db/ident.js';
import { NatalError } from '../errors.js';
import type { IdentityStrategy, UnclassifiedReason } from '../types.js';
import { type Collection, listCollections } from './collections.js';
import { resolveCollection, resolveCollections } from './names.js';

export const STRATEGIES: readonly IdentityStrategy[] = [
  'column',
  'synthetic_id',
  'legacy',
  'composite',
  'unclassified',
];

export interface ColumnEvidence {
  distinct: number;
  nulls: number;
  empties: number;
  prefixed: number;
}

export interface Proposal {
  collection_name: string;
  current: IdentityStrategy;
  strategy: IdentityStrategy;
  column?: string;
  reason?: UnclassifiedReason;
  certain: boolean;
  why: string;
  key_columns: string[] | null;
  evidence: { table: boolean; rows?: number; columns?: Record<string, ColumnEvidence> };
  /** With --apply: whether this proposal was recorded, and why not when it was not. */
  applied?: boolean;
  not_applied?: string;
}

/** Names natal's own catalog collections, which classification and the census leave out. */
export function isNatalCatalog(ctx: Ctx, c: Pick<Collection, 'table_schema'>): boolean {
  return c.table_schema === ctx.schema;
}

/**
 * Proposes an identity for each named collection (all of the user's when none), with the
 * evidence. With `apply`, records the certain proposals that differ from what is recorded,
 * each in its own transaction; uncertain ones are left for the owner.
 */
export async function classify(
  ctx: Ctx,
  transaction: <T>(fn: (tx: Ctx) => Promise<T>) => Promise<T>,
  inputs: string[],
  options: { apply?: boolean } = {},
): Promise<Proposal[]> {
  const names = inputs.length
    ? await resolveCollections(ctx, inputs)
    : (await listCollections(ctx)).filter((c) => !isNatalCatalog(ctx, c)).map((c) => c.collection_name);
  const proposals: Proposal[] = [];
  for (const name of names) {
    type Row = {
      p: Omit<Proposal, 'collection_name' | 'current'>;
      current: IdentityStrategy;
      current_column: string | null;
      current_keys: string[] | null;
      current_reason: string | null;
      source: string;
    };
    const { rows } = await ctx.db.query<Row>(
      `SELECT ${ctx.ns}.propose_identity($1) AS p, r.birth_code_strategy AS current, r.birth_code_source AS source,
              r.birth_code_column AS current_column, r.birth_code_reason AS current_reason,
              r.birth_code_key_columns::text[] AS current_keys
       FROM ${ctx.ns}.collection_registry r WHERE r.collection_name = $1`,
      [name],
    );
    const row = rows[0] as Row;
    const proposal: Proposal = { collection_name: name, current: row.current, ...row.p };
    if (options.apply) {
      // Unclassified either way, the reason can still move on (no-table → needs-owner once
      // the table exists): that much is certain, and recorded.
      const reasonMoved =
        proposal.strategy === 'unclassified' &&
        proposal.current === 'unclassified' &&
        (proposal.reason ?? null) !== row.current_reason;
      const keyed = proposal.strategy === 'synthetic_id' || proposal.strategy === 'composite';
      const differs =
        proposal.strategy !== proposal.current ||
        (keyed && JSON.stringify(proposal.key_columns ?? null) !== JSON.stringify(row.current_keys)) ||
        ((proposal.strategy === 'column' || proposal.strategy === 'legacy') &&
          (proposal.column ?? null) !== row.current_column) ||
        reasonMoved;
      proposal.applied = false;
      if (!proposal.certain && !reasonMoved) proposal.not_applied = 'uncertain: left for the owner';
      else if (!differs) proposal.not_applied = 'already recorded';
      else if (row.source === 'owner') proposal.not_applied = "the owner's decision stands";
      else {
        try {
          await transaction((tx) =>
            setIdentity(tx, name, {
              strategy: proposal.strategy,
              column: proposal.column,
              columns: keyed ? (proposal.key_columns ?? undefined) : undefined,
              reason: proposal.reason ?? `classify: ${proposal.why}`,
              evidence: proposal.evidence,
              force: false,
              source: 'classify',
            }),
          );
          proposal.applied = true;
        } catch (err) {
          if (!(err instanceof NatalError)) throw err;
          proposal.not_applied = err.message;
        }
      }
    }
    proposals.push(proposal);
  }
  return proposals;
}

export interface IdentityDecision {
  strategy: IdentityStrategy;
  column?: string | undefined;
  /** The key of a synthetic_id (one column) or composite identity, when not the primary key. */
  columns?: string[] | undefined;
  reason?: string | undefined;
  evidence?: unknown;
  force?: boolean | undefined;
  /** Who decides: the owner (default) or classification. */
  source?: 'owner' | 'classify';
}

export async function setIdentity(ctx: Ctx, input: string, decision: IdentityDecision): Promise<Collection> {
  if (!STRATEGIES.includes(decision.strategy)) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `strategy ${decision.strategy} is not one of ${STRATEGIES.join(', ')}`,
    );
  }
  if (decision.column !== undefined) assertIdentifier(decision.column, 'column');
  for (const column of decision.columns ?? []) assertIdentifier(column, 'key column');
  const name = await resolveCollection(ctx, input);
  await ctx.db.query(`SELECT ${ctx.ns}.set_identity($1, $2, $3, $4, $5::jsonb, $6, $7, $8::name[])`, [
    name,
    decision.strategy,
    decision.column ?? null,
    decision.reason ?? null,
    decision.evidence === undefined ? null : JSON.stringify(decision.evidence),
    decision.force === true,
    decision.source ?? 'owner',
    decision.columns ?? null,
  ]);
  return (await listCollections(ctx, [name]))[0] as Collection;
}
