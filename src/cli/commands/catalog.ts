/** `natal species …` and `natal collection …`: the catalog. */
import { type Command, Option } from 'commander';
import { assertRole, type Collection } from '../../catalog/collections.js';
import { NatalError } from '../../errors.js';
import { table } from '../format.js';
import { runChange, runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

function describeCollection(c: Collection): string {
  const identity =
    c.birth_code_strategy === 'column'
      ? `column ${c.birth_code_column}`
      : c.birth_code_strategy === 'unclassified'
        ? `unclassified (${c.birth_code_reason})`
        : c.birth_code_strategy;
  return `${c.collection_name}: ${c.governance_role}, species ${c.species_code ?? '-'}, identity ${identity}${c.has_table ? '' : ', no table'}, owner ${c.owner ?? '-'}, catalog code ${c.entity_code}`;
}

function collectionRows(list: Collection[]): string {
  return table(
    ['collection', 'role', 'species', 'identity', 'table', 'wired', 'strict', 'owner', 'code'],
    list.map((c) => [
      c.collection_name,
      c.governance_role,
      c.species_code,
      c.birth_code_strategy === 'column'
        ? `column:${c.birth_code_column}`
        : c.birth_code_strategy === 'unclassified'
          ? `unclassified:${c.birth_code_reason}`
          : c.birth_code_strategy,
      c.has_table ? 'yes' : 'no table',
      c.wired ? 'yes' : 'no',
      c.strict_mode ? 'yes' : 'no',
      c.owner,
      c.entity_code,
    ]),
  );
}

export function registerCatalogCommands(program: Command, withGlobals: WithGlobals): void {
  const species = program
    .command('species')
    .description('entity species: kinds of entity and their code prefixes');
  withGlobals(
    species
      .command('add <code>')
      .description('register a species (its catalog row is born)')
      .requiredOption('--prefix <prefix>', 'code prefix of its entities (PREFIX-NNN)')
      .requiredOption('--level <level>', 'composition level')
      .option('--name <text>', 'a readable name'),
  ).action((code: string, opts: { prefix: string; level: string; name?: string }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const s = await registry.addSpecies({
        code,
        prefix: opts.prefix,
        level: opts.level,
        name: opts.name,
      });
      return {
        json: s,
        text: `species ${s.species_code} added: prefix ${s.code_prefix}, level ${s.composition_level}, catalog code ${s.entity_code}`,
      };
    }),
  );
  withGlobals(species.command('list').description('list species')).action((_o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const list = await registry.listSpecies();
      return {
        json: list,
        text: table(
          ['species', 'prefix', 'level', 'collections', 'name', 'code'],
          list.map((s) => [
            s.species_code,
            s.code_prefix,
            s.composition_level,
            s.collections,
            s.name,
            s.entity_code,
          ]),
        ),
      };
    }),
  );

  const collection = program
    .command('collection')
    .description('collections: the tables whose rows are entities');
  withGlobals(
    collection
      .command('add <table>')
      .description('register a table as a collection (its catalog row is born, its rows are not)')
      .requiredOption('--species <code>', 'the species of its entities')
      .addOption(new Option('--role <role>', 'governance role').choices(['governed', 'staging', 'excluded']))
      .option('--owner <name>', 'who owns it (permits its backfill)')
      .option('--code-column <col>', 'the column holding each entity code')
      .option('--no-table', 'register it ahead of its table, which does not exist yet'),
  ).action(
    (
      tableName: string,
      opts: { species: string; role?: string; owner?: string; codeColumn?: string; table: boolean },
      cmd: Command,
    ) =>
      runWithRegistry(cmd, async (registry) => {
        const c = await registry.addCollection({
          table: tableName,
          species: opts.species,
          role: opts.role === undefined ? undefined : assertRole(opts.role),
          owner: opts.owner,
          codeColumn: opts.codeColumn,
          noTable: opts.table === false,
        });
        return { json: c, text: `collection added: ${describeCollection(c)}` };
      }),
  );
  withGlobals(
    collection
      .command('remove <table>')
      .description('undo the registration of a collection that has no births'),
  ).action((tableName: string, _o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const c = await registry.removeCollection(tableName);
      return { json: c, text: `collection removed: ${c.collection_name} (it had no births)` };
    }),
  );
  withGlobals(collection.command('list [tables...]').description('list collections')).action(
    (tables: string[], _o, cmd: Command) =>
      runWithRegistry(cmd, async (registry) => {
        const list = await registry.listCollections(tables.length ? tables : undefined);
        return { json: list, text: collectionRows(list) };
      }),
  );
  withGlobals(
    collection
      .command('set <table>')
      .description('change a collection (a wired one is re-wired to match)')
      .addOption(new Option('--role <role>', 'governance role').choices(['governed', 'staging', 'excluded']))
      .option('--owner <name>', 'owner')
      .option('--species <code>', 'species')
      .option('--strict', 'reject direct inserts of rows with no prior birth')
      .option('--no-strict', 'back to auto-birth')
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action(
    (
      tableName: string,
      opts: { role?: string; owner?: string; species?: string; strict?: boolean },
      cmd: Command,
    ) =>
      runChange(cmd, async (registry) => {
        if (
          opts.role === undefined &&
          opts.owner === undefined &&
          opts.species === undefined &&
          opts.strict === undefined
        ) {
          throw new NatalError(
            'USAGE',
            'nothing to set: give --role, --owner, --species, --strict or --no-strict',
          );
        }
        const c = await registry.setCollection(tableName, {
          role: opts.role === undefined ? undefined : assertRole(opts.role),
          owner: opts.owner,
          species: opts.species,
          strict: opts.strict,
        });
        return {
          json: c,
          text: `collection updated: ${describeCollection(c)}${c.strict_mode ? ', strict' : ''}`,
        };
      }),
  );
}
