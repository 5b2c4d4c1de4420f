/** `natal classify` and `natal identity set`: proposing and recording collections' identities. */
import { type Command, Option } from 'commander';
import { STRATEGIES } from '../../catalog/identity.js';
import { NatalError } from '../../errors.js';
import type { IdentityStrategy } from '../../types.js';
import { runChange, runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

export function registerIdentityCommands(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('classify [tables...]')
      .description('propose an identity for each collection from the catalog and the data, with evidence')
      .option('--apply', 'record the proposals that are certain; leave the rest for the owner'),
  ).action((tables: string[], opts: { apply?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const proposals = await registry.classify(tables, { apply: opts.apply });
      const lines = proposals.map((p) => {
        const what =
          p.strategy === 'unclassified'
            ? `unclassified (${p.reason})`
            : p.column
              ? `${p.strategy} ${p.column}`
              : p.strategy;
        const mark = opts.apply
          ? p.applied
            ? ' [recorded]'
            : ` [not recorded: ${p.not_applied}]`
          : p.certain
            ? ''
            : ' [uncertain]';
        return `${p.collection_name}: ${what}${mark}\n    ${p.why}`;
      });
      return { json: proposals, text: lines.join('\n') || 'no collections' };
    }),
  );

  const identity = program.command('identity').description("collections' identities: the owner's decisions");
  withGlobals(
    identity
      .command('set <table>')
      .description("record the owner's identity decision (re-wires a wired collection)")
      .addOption(
        new Option('--strategy <strategy>', 'identity strategy')
          .choices([...STRATEGIES])
          .makeOptionMandatory(),
      )
      .option('--column <col>', 'the code column (column, legacy), or the key column of a synthetic id')
      .option('--columns <a,b>', 'the key columns of a composite identity, comma-separated')
      .option(
        '--reason <text>',
        'why (for unclassified: no-id, needs-owner, no-table, duplicate-codes, null-codes)',
      )
      .option('--force', 'change it although births were made under the old identity')
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action(
    (
      t: string,
      opts: {
        strategy: IdentityStrategy;
        column?: string;
        columns?: string;
        reason?: string;
        force?: boolean;
      },
      cmd: Command,
    ) =>
      runChange(cmd, async (registry) => {
        if ((opts.strategy === 'column' || opts.strategy === 'legacy') && opts.column === undefined) {
          throw new NatalError('USAGE', `--strategy ${opts.strategy} needs --column COL`);
        }
        if (opts.columns !== undefined && opts.strategy !== 'composite') {
          throw new NatalError(
            'USAGE',
            `--columns is for --strategy composite; a synthetic id takes --column COL`,
          );
        }
        if (opts.strategy === 'composite' && opts.column !== undefined) {
          throw new NatalError('USAGE', `a composite identity takes --columns A,B, not --column`);
        }
        const columns = opts.columns?.split(',').map((c) => c.trim());
        if (columns && (columns.length < 2 || columns.some((c) => c === ''))) {
          throw new NatalError(
            'USAGE',
            `--columns takes two column names or more, comma-separated (--columns a,b)`,
          );
        }
        const c = await registry.setIdentity(t, {
          strategy: opts.strategy,
          column: opts.column,
          columns,
          reason: opts.reason,
          force: opts.force,
        });
        const keyed = c.birth_code_strategy === 'synthetic_id' || c.birth_code_strategy === 'composite';
        const on = c.birth_code_column ?? (keyed ? c.birth_code_key_columns?.join(', ') : undefined);
        return {
          json: c,
          text: `${c.collection_name}: identity ${c.birth_code_strategy}${on ? ` ${on}` : ''}${c.birth_code_reason ? ` (${c.birth_code_reason})` : ''}`,
        };
      }),
  );
}
