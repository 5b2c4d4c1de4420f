/** Preflight: the seed's checks before a collection may be backfilled. */
import { listFreezes } from '../backfill/freeze.js';
import { type Collection, listCollections } from '../catalog/collections.js';
import { isNatalCatalog } from '../catalog/identity.js';
import { resolveCollections } from '../catalog/names.js';
import { triggerInventory } from '../catalog/wiring.js';
import type { Ctx } from '../context.js';
import { duplicateRisk } from './census.js';

export interface Check {
  check: string;
  ok: boolean;
  fix?: string;
}

export interface Preflight {
  collection: string;
  result: 'READY' | 'NOT_READY';
  checks: Check[];
  failed: Check[];
}

export async function preflight(ctx: Ctx, inputs: string[] = []): Promise<Preflight[]> {
  const names = inputs.length ? await resolveCollections(ctx, inputs) : undefined;
  // Unnamed: every collection that requires birth (governed, natal's own catalog aside);
  // staging and excluded ones are deliberately not governed and have nothing to prepare.
  const collections = (await listCollections(ctx, names)).filter(
    (c) => names || (!isNatalCatalog(ctx, c) && c.governance_role === 'governed'),
  );
  const inventory = new Map(
    (
      await triggerInventory(
        ctx,
        collections.map((c) => c.collection_name),
      )
    ).map((t) => [t.collection_name, t]),
  );
  const freezes = new Map((await listFreezes(ctx)).map((f) => [f.target, f]));
  const risks = await duplicateRisk(
    ctx,
    collections.map((c) => c.collection_name),
  );
  const { rows: species } = await ctx.db.query<{ species_code: string }>(
    `SELECT species_code FROM ${ctx.ns}.entity_species`,
  );
  const validSpecies = new Set(species.map((s) => s.species_code));
  return collections.map((c: Collection) => {
    const t = c.collection_name;
    const trigger = inventory.get(t);
    const risk = risks.filter((r) => r.collections.includes(t));
    const frozen = freezes.get(t);
    const checks: Check[] = [
      {
        // Held on purpose: the freeze says who and why; the other checks still say what is missing.
        check: 'not frozen',
        ok: frozen === undefined,
        fix: frozen
          ? `held on purpose by ${frozen.frozen_by} (${frozen.reason}); natal unfreeze ${t} to go on`
          : '',
      },
      {
        check: 'in the species map',
        ok: c.species_code !== null,
        fix: `natal collection set ${t} --species CODE`,
      },
      {
        check: 'species valid',
        ok: c.species_code !== null && validSpecies.has(c.species_code),
        fix: 'natal species add CODE --prefix PREFIX --level LEVEL',
      },
      {
        check: 'governed',
        ok: c.governance_role === 'governed',
        fix: `natal collection set ${t} --role governed`,
      },
      { check: 'table exists', ok: c.has_table, fix: `create the table ${c.table_schema}.${c.table_name}` },
      {
        check: 'identity classified',
        ok: c.birth_code_strategy !== 'unclassified',
        fix: `natal classify ${t} --apply, or the owner: natal identity set ${t} --strategy …`,
      },
      {
        check: 'trigger wired and functional',
        ok: trigger?.functional === true,
        fix: trigger?.problem ? `natal wire ${t} (${trigger.problem})` : `natal wire ${t}`,
      },
      {
        check: 'no duplicate risk',
        ok: risk.length === 0,
        fix: `resolve ${risk.length} colliding code(s), e.g. ${risk
          .slice(0, 3)
          .map(
            (r) =>
              `${r.entity_code} (${r.collections.join(', ')}${r.born_as ? `; born as ${r.born_as}` : ''})`,
          )
          .join('; ')}`,
      },
    ].map((k) => (k.ok ? { check: k.check, ok: true } : k));
    const failed = checks.filter((k) => !k.ok);
    return { collection: t, result: failed.length === 0 ? 'READY' : 'NOT_READY', checks, failed };
  });
}
