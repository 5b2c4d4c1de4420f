/** `natal init` and `natal doctor`: install natal's schema and check it. */
import type { Command } from 'commander';
import { runWithRegistry } from '../run.js';

export function registerSchemaCommands(program: Command, withGlobals: (c: Command) => Command) {
  withGlobals(program.command('init').description("install or upgrade natal's schema (idempotent)")).action(
    (_opts, cmd: Command) =>
      runWithRegistry(
        cmd,
        async (registry) => {
          const result = await registry.init();
          const where = `schema ${registry.schema} at ${registry.db.location}`;
          return {
            // up_to_date: snake_case as every other JSON key (upToDate stays for scripts that read it)
            json: {
              schema: registry.schema,
              location: registry.db.location,
              ...result,
              up_to_date: result.upToDate,
            },
            text: result.upToDate
              ? `natal is up to date in ${where}; nothing changed`
              : `applied ${result.applied.join(', ')} to ${where}`,
          };
        },
        { requireReady: false, create: true },
      ),
  );

  withGlobals(
    program
      .command('doctor')
      .description('compare the live schema with what the migrations should have produced'),
  ).action((_opts, cmd: Command) =>
    runWithRegistry(
      cmd,
      async (registry) => {
        const report = await registry.doctor();
        const lines = report.findings.map((f) => {
          const detail =
            f.problem === 'changed' && f.expected !== undefined
              ? `: expected ${f.expected}, found ${f.actual}`
              : `: ${f.expected ?? f.actual ?? ''}`;
          const who = f.who ? `\n             only ${f.who} can have done this` : '';
          return `  ${f.problem.padEnd(10)} ${f.kind} ${f.name}${detail}${who}`;
        });
        return {
          json: report,
          text: report.clean
            ? `schema ${report.schema} is clean: it matches the migrations`
            : [`schema ${report.schema}: ${report.findings.length} difference(s)`, ...lines].join('\n'),
          exitCode: report.clean ? 0 : 1,
        };
      },
      { requireReady: false },
    ),
  );
}
