/**
 * Inspection (the seed's "inspect pen"): validates birth records inside the database. It
 * judges the births made since the last inspection; one that failed keeps its failure (a
 * known failure) until `recheck`, which judges every birth again.
 */
import { resolveCollections } from '../catalog/names.js';
import type { Ctx } from '../context.js';

export interface InspectionResult {
  collection_name: string;
  checked: number;
  passed: number;
  /** Births found failing by this inspection. */
  failed: number;
  failures: { entity_code: string; reason: string }[];
  /**
   * Births that failed an earlier inspection and were not judged again (only `recheck`
   * judges them again): still failing, as far as natal knows.
   */
  known_failures: number;
}

export async function inspectBirths(
  ctx: Ctx,
  inputs: string[] = [],
  options: { recheck?: boolean } = {},
): Promise<InspectionResult[]> {
  const names = inputs.length === 0 ? null : await resolveCollections(ctx, inputs);
  const { rows } = await ctx.db.query<InspectionResult>(`SELECT * FROM ${ctx.ns}.inspect($1::text[], $2)`, [
    names,
    options.recheck === true,
  ]);
  return rows;
}

export interface InspectionTotals {
  checked: number;
  passed: number;
  failed: number;
  known_failures: number;
}

export function inspectionTotals(results: InspectionResult[]): InspectionTotals {
  return results.reduce(
    (t, r) => ({
      checked: t.checked + r.checked,
      passed: t.passed + r.passed,
      failed: t.failed + r.failed,
      known_failures: t.known_failures + r.known_failures,
    }),
    { checked: 0, passed: 0, failed: 0, known_failures: 0 },
  );
}
