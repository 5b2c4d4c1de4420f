/** `natal demo`: the main job on a bare machine. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEMO_SCHEMA, runDemo } from '../../demo/demo.js';
import { globalOptions, runWithRegistry } from '../run.js';

export function registerDemoCommand(program: Command, withGlobals: (c: Command) => Command): void {
  withGlobals(
    program
      .command('demo')
      .description(
        'walk the birth story on a sample platform (a temporary embedded database unless --data-dir or --db; schema natal_demo)',
      ),
  ).action((_o, cmd: Command) => {
    const g = globalOptions(cmd);
    const env = g.db ?? process.env.NATAL_DATABASE_URL;
    // Embedded by default, in a fresh temporary directory, so the demo never meets old state.
    const dataDir = env ? undefined : (g.dataDir ?? mkdtempSync(join(tmpdir(), 'natal-demo-')));
    return runWithRegistry(
      cmd,
      async (registry) => {
        const lines: string[] = [];
        const started = Date.now();
        const log = (line: string) => {
          lines.push(line);
          if (!g.json) process.stdout.write(`• ${line}\n`);
        };
        log(`database: ${registry.db.location}`);
        const summary = await runDemo(registry, log);
        const seconds = (Date.now() - started) / 1000;
        return {
          json: { ...summary, location: registry.db.location, schema: registry.schema, seconds },
          text: `demo done in ${seconds.toFixed(1)} s; ${summary.births} births in ${summary.collections} collections`,
        };
      },
      { requireReady: false, dataDir, schema: g.schema ?? DEMO_SCHEMA },
    );
  });
}
