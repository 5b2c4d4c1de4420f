/** The `natal` command line: every command and its flags (main.ts runs it). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { NatalError } from '../errors.js';
import { NATAL_VERSION } from '../paths.js';
import { registerAccessCommands } from './commands/access.js';
import { registerBackfillCommands } from './commands/backfill.js';
import { registerCatalogCommands } from './commands/catalog.js';
import { registerCensusCommands } from './commands/census.js';
import { registerCreateCommand } from './commands/create.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerIdentityCommands } from './commands/identity.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerPreflightCommand } from './commands/preflight.js';
import { registerReportCommand } from './commands/report.js';
import { registerSchemaCommands } from './commands/schema.js';
import { registerServeCommand } from './commands/serve.js';
import { registerShowCommand } from './commands/show.js';
import { registerWiringCommands } from './commands/wiring.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import { EXAMPLES } from './examples.js';

/** The flags every command takes, wherever they appear on the line. */
export function withGlobals(cmd: Command): Command {
  return cmd
    .addOption(new Option('--db <url>', 'PostgreSQL server URL (or NATAL_DATABASE_URL)'))
    .addOption(new Option('--data-dir <dir>', 'embedded data directory (default ./.natal)'))
    .addOption(new Option('--schema <name>', "natal's schema (default natal)"))
    .addOption(new Option('--json', 'machine-readable output on stdout'))
    .addOption(
      new Option(
        '--as <name>',
        'who is acting: embedded, any name; on a server, a role a superuser session becomes',
      ),
    )
    .addOption(
      new Option(
        '--wait [seconds]',
        'where another natal holds a lock (an embedded data directory, a running apply), wait for it (without SECONDS: until it is free)',
      ),
    )
    .addOption(new Option('-q, --quiet', 'print nothing but errors (the exit code says how it went)'))
    .addOption(
      new Option('--verbose', 'also print every statement sent and its time on stderr (NATAL_DEBUG=1)'),
    );
}

export function buildProgram(): Command {
  const program = withGlobals(new Command('natal'))
    .description('natal: a birth registry for PostgreSQL entities')
    .version(NATAL_VERSION, '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's own error text is replaced by one line of ours (below).
      outputError: () => undefined,
    });
  registerSchemaCommands(program, withGlobals);
  registerCatalogCommands(program, withGlobals);
  // The order of `natal --help`.
  registerWiringCommands(program, withGlobals);
  registerCreateCommand(program, withGlobals);
  registerInspectCommand(program, withGlobals);
  registerShowCommand(program, withGlobals);
  registerIdentityCommands(program, withGlobals);
  registerPreflightCommand(program, withGlobals);
  registerCensusCommands(program, withGlobals);
  registerBackfillCommands(program, withGlobals);
  registerServeCommand(program, withGlobals);
  registerReportCommand(program, withGlobals);
  registerDemoCommand(program, withGlobals);
  registerAccessCommands(program, withGlobals);
  program
    .command('completion')
    .description('print a completion script for bash, zsh or fish: eval "$(natal completion bash)"')
    .argument('<shell>', 'bash, zsh or fish', (v: string) => {
      if (!(SHELLS as readonly string[]).includes(v))
        throw new InvalidArgumentError('give bash, zsh or fish');
      return v as Shell;
    })
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
  const quiet = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ outputError: () => undefined });
    cmd.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  // Each command's help ends with examples; a required option says so.
  const explain = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      for (const o of sub.options) if (o.mandatory) o.description = `${o.description} (required)`;
      const examples = EXAMPLES[p.join(' ')];
      if (examples) sub.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
      explain(sub, p);
    }
  };
  explain(program, []);
  // --verbose turns on what NATAL_DEBUG does, for whatever the command runs.
  program.hook('preAction', (_program, action) => {
    const g = action.optsWithGlobals() as { verbose?: boolean; quiet?: boolean; json?: boolean };
    if (g.verbose && g.quiet) throw new NatalError('USAGE', 'give --verbose or --quiet, not both');
    if (g.verbose) process.env.NATAL_DEBUG = '1';
  });
  return program;
}
