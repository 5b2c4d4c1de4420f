/** `natal classify` and `natal identity set`: proposing and recording collections' identities. */
import { type Command, Option } from 'commander';
import { STRATEGIES } from '../../catalog/identity.js';
import { NatalError } from '../../errors.js';
import type { IdentityStrategy } from '../../types.js';
import { runWithRegistry } from '../run.js';

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
      .option('--column <col>', 'the code column (column, legacy)')
      .option(
        '--reason <text>',
        'why (for unclassified: no-id, needs-owner, no-table, duplicate-codes, null-codes)',
      )
      .option('--force', 'change it although births were made under the old identity'),
  ).action(
    (
      t: string,
      opts: { strategy: IdentityStrategy; column?: string; reason?: string; force?: boolean },
      cmd: Command,
    ) =>
      runWithRegistry(cmd, async (registry) => {
        if ((opts.strategy === 'column' || opts.strategy === 'legacy') && opts.column === undefined) {
          throw new NatalError('USAGE', `--strategy ${opts.strategy} needs --column COL`);
        }
        const c = await registry.setIdentity(t, opts);
        return {
          json: c,
          text: `${c.collection_name}: identity ${c.birth_code_strategy}${c.birth_code_column ? ` ${c.birth_code_column}` : ''}${c.birth_code_reason ? ` (${c.birth_code_reason})` : ''}`,
        };
      }),
  );
}
