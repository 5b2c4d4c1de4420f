#!/usr/bin/env node
/** The `natal` command: parses flags and calls the library. */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { reportError } from './run.js';

/** Commander's error as one line, its suggestion ("Did you mean status?") kept. */
function usageMessage(err: CommanderError): string {
  const [first = err.message, ...rest] = err.message.replace(/^error:\s*/, '').split('\n');
  const suggestion = rest
    .map((l) => l.trim().replace(/^\((.*)\)$/, '$1'))
    .find((l) => /^Did you mean/.test(l));
  const text = first.replace(/\.$/, '');
  return `natal: ${text}${suggestion ? ` (${suggestion})` : ''}; see natal --help`;
}

export async function main(argv: string[]): Promise<void> {
  // Output piped into a reader that stops early (`natal ledger | head`): stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
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
