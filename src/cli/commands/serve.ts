/** `natal serve`: the dashboard, until Ctrl-C. */
import { type Command, InvalidArgumentError } from 'commander';
import { serveDashboard } from '../../serve/server.js';
import { parseCount } from '../parse.js';
import { checkGlobals, globalOptions, reportError, waitOptions } from '../run.js';

type WithGlobals = (c: Command) => Command;

function parsePort(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
    throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return Number(v);
}

export function registerServeCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('serve')
      .description(
        'the registry on a web page: overview, collections, plans (review, permit), ledger, entities',
      )
      .option('--port <n>', 'the port to listen on (0: any free one)', parsePort, 8787)
      .option('--host <address>', 'the address to listen on (localhost unless told otherwise)', '127.0.0.1')
      .option('--session-minutes <n>', 'idle minutes after which a login ends', parseCount, 30),
  ).action(async (opts: { port: number; host: string; sessionMinutes: number }, cmd: Command) => {
    const g = globalOptions(cmd);
    try {
      checkGlobals(g, g.dataDir);
      const served = await serveDashboard({
        db: g.dataDir !== undefined ? undefined : (g.db ?? process.env.NATAL_DATABASE_URL),
        dataDir: g.dataDir,
        schema: g.schema,
        as: g.as,
        port: opts.port,
        host: opts.host,
        sessionMinutes: opts.sessionMinutes,
        ...waitOptions(g),
      });
      const who = served.embedded
        ? 'embedded, one user: separation of duties is advisory'
        : 'log in as a database role';
      if (!g.quiet)
        process.stdout.write(`natal serve: ${served.url} (${served.where}; ${who}). Ctrl-C stops it.\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await served.close();
      if (!g.quiet) process.stdout.write('natal serve: stopped.\n');
    } catch (err) {
      process.exitCode = reportError(err, g.json === true);
    }
  });
}
