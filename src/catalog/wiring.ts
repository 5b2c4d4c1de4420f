/** Wiring: the auto-birth trigger on each governed collection, and its inventory. */
import { trustingTableOwner } from '../access/roles.js';
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import type { GovernanceRole } from '../types.js';
import { resolveCollection } from './names.js';

/**
 * How a collection is wired: a statement or row trigger births its rows; 'gateway', a
 * distributed or reference table (Citus), has no trigger (its rows are written on the
 * workers): its gateway births new entities first, a backfill the rows written around it.
 */
export type WiringKind = 'statement' | 'row' | 'gateway';

export interface WireResult {
  collection_name: string;
  kind: WiringKind;
}

export interface NotWired {
  collection_name: string;
  reason: string;
}

/** Wires the named collections, all or none: any that cannot be wired is an error. */
export async function wireCollections(tx: Ctx, inputs: string[]): Promise<WireResult[]> {
  const wired: WireResult[] = [];
  for (const input of inputs) {
    const name = await resolveCollection(tx, input);
    // A frozen collection is held as it is: natal neither wires nor unwires it.
    await tx.db.query(`SELECT ${tx.ns}.assert_not_frozen($1)`, [name]);
    const { rows } = await trustingTableOwner(tx.db, tx.schema, () =>
      tx.db.query<{ kind: WiringKind }>(`SELECT ${tx.ns}.wire($1) AS kind`, [name]),
    );
    wired.push({ collection_name: name, kind: rows[0]?.kind as WiringKind });
  }
  return wired;
}

/**
 * Wires every governed collection that can be wired, each in its own transaction, and
 * lists the others with the reason.
 */
export async function wireAll(
  ctx: Ctx,
  transaction: <T>(fn: (tx: Ctx) => Promise<T>) => Promise<T>,
): Promise<{ wired: WireResult[]; not_wired: NotWired[] }> {
  const { rows } = await ctx.db.query<{ collection_name: string }>(
    `SELECT collection_name FROM ${ctx.ns}.collection_registry
     WHERE governance_role = 'governed' ORDER BY collection_name`,
  );
  const wired: WireResult[] = [];
  const notWired: NotWired[] = [];
  for (const { collection_name } of rows) {
    try {
      wired.push(...(await transaction((tx) => wireCollections(tx, [collection_name]))));
    } catch (err) {
      if (!(err instanceof NatalError)) throw err;
      notWired.push({ collection_name, reason: err.message });
    }
  }
  return { wired, not_wired: notWired };
}

export async function unwireCollection(
  ctx: Ctx,
  input: string,
): Promise<{ collection_name: string; was_wired: boolean }> {
  const name = await resolveCollection(ctx, input);
  await ctx.db.query(`SELECT ${ctx.ns}.assert_not_frozen($1)`, [name]);
  const { rows } = await ctx.db.query<{ was: boolean }>(`SELECT ${ctx.ns}.unwire($1) AS was`, [name]);
  return { collection_name: name, was_wired: rows[0]?.was === true };
}

export interface TriggerState {
  collection_name: string;
  governance_role: GovernanceRole;
  has_table: boolean;
  present: boolean;
  enabled: boolean;
  functional: boolean;
  kind: WiringKind | null;
  problem: string | null;
}

/**
 * The trigger inventory of `collections` (all when omitted). `full`: every collection's
 * functions generated again and compared (natal triggers, natal doctor); else compared with
 * what wiring recorded wherever the collection's inputs are unchanged (the census, cheaper).
 */
export async function triggerInventory(
  ctx: Ctx,
  collections?: string[],
  full = false,
): Promise<TriggerState[]> {
  const { rows } = await ctx.db.query<TriggerState>(
    `SELECT * FROM ${ctx.ns}.trigger_inventory($1::text[], $2::boolean)`,
    [collections ?? null, full],
  );
  return rows;
}
