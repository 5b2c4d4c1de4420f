/**
 * The sample platform, shaped like the seed's (KB-7019, Birth Stage 2 QT-001): 74
 * collections that require birth and 2 staging ones, their catalog as Stage 1 left it, and a
 * birth registry of a chosen size. Built in one transaction by sql/demo/platform.sql (the
 * tables and the catalog) and sql/demo/history.sql (the rows, their births, the wiring).
 */
import { count } from '../count.js';
import { NatalError } from '../errors.js';
import type { Registry } from '../registry.js';
import { clearDemoSchema, markDemoSchema } from './schemas.js';
import { runScript } from './script.js';
import { quoteIdent } from '../db/ident.js';

/** The birth registry's size before the backfill: by default, and with --full (the seed's). */
export const DEFAULT_BIRTHS = 100_000;
export const FULL_BIRTHS = 1_210_868;
/** Below this the big tables would be empty (the catalog and the small tables take ~2,200). */
export const MIN_BIRTHS = 5_000;

/** QT-001's five backfill targets and their gaps, as in the seed. */
export const SEED_GAPS: Record<string, number> = {
  dot_domain_rules: 67,
  apr_approvals: 42,
  normative_relations: 18,
  apr_action_types: 6,
  field_type_equivalences: 4,
};

export function assertBirths(births: number): number {
  if (!Number.isInteger(births) || births < MIN_BIRTHS) {
    throw new NatalError(
      'USAGE',
      `the demo's registry needs a whole number of at least ${count(MIN_BIRTHS)} births, not ${births}`,
    );
  }
  return births;
}

/** Builds the platform in `app` (replacing one an earlier demo made), owned by `owner`. */
export async function buildPlatform(
  registry: Registry,
  app: string,
  options: { births: number; owner: string },
): Promise<void> {
  await clearDemoSchema(registry, app);
  await runScript(
    registry,
    ['platform.sql', 'history.sql'],
    { 'natal_demo.owner': options.owner, 'natal_demo.births': String(assertBirths(options.births)) },
    { before: `CREATE SCHEMA ${quoteIdent(app)}`, searchPath: [app, registry.schema] },
  );
  await markDemoSchema(registry, app);
}
