#!/usr/bin/env node
/** The `natal` command: parses flags and calls the library. */
import { Command, CommanderError, Option } from 'commander';
import { NATAL_VERSION } from '../paths.js';
import { reportError } from './run.js';
import { registerBackfillCommands } from './commands/backfill.js';
import { registerBirthCommands } from './commands/births.js';
import { registerCatalogCommands } from './commands/catalog.js';
import { registerCensusCommands } from './commands/census.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerReportCommand } from './commands/report.js';
import { registerSchemaCommands } from './commands/schema.js';

/** The flags every command takes, wherever they appear on the line. */
function withGlobals(cmd: Command): Command {
  return cmd
    .addOption(new Option('--db <url>', 'PostgreSQL server URL (or NATAL_DATABASE_URL)'))
    .addOption(new Option('--data-dir <dir>', 'embedded data directory (default ./.natal)'))
    .addOption(new Option('--schema <name>', "natal's schema (default natal)"))
    .addOption(new Option('--json', 'machine-readable output on stdout'))
    .addOption(new Option('--as <name>', 'who is acting, embedded only (on a server: your database role)'));
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
  registerBirthCommands(program, withGlobals);
  registerCensusCommands(program, withGlobals);
  registerBackfillCommands(program, withGlobals);
  registerReportCommand(program, withGlobals);
  registerDemoCommand(program, withGlobals);
  const quiet = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ outputError: () => undefined });
    cmd.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program;
}

function usageMessage(err: CommanderError): string {
  const text = (err.message.replace(/^error:\s*/, '').split('\n')[0] ?? err.message).replace(/\.$/, '');
  return `natal: ${text}; see natal --help`;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length <= 2) {
    process.stdout.write(program.helpInformation());
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        process.exitCode = 0;
        return;
      }
      if (err.code === 'commander.help') {
        // `natal help [cmd]` asked for it; a group named without its subcommand did not.
        process.exitCode = argv[2] === 'help' ? 0 : 2;
        return;
      }
      const message = usageMessage(err);
      if (argv.includes('--json')) {
        process.stdout.write(
          `${JSON.stringify({ error: { code: 'USAGE', message: message.replace(/^natal: /, '') } })}\n`,
        );
      }
      process.stderr.write(`${message}\n`);
      process.exitCode = 2;
      return;
    }
    // Anything else still ends as one line and an exit code, never a stack trace.
    process.exitCode = reportError(err, argv.includes('--json'));
  }
}

await main(process.argv);
