/** `natal access grant|revoke|list`: who holds which of natal's roles. */
import type { Command } from 'commander';
import { NATAL_ROLES } from '../../access/roles.js';
import { assertIdentifier } from '../../db/ident.js';
import { NatalError } from '../../errors.js';
import { table } from '../format.js';
import { runWithRegistry } from '../run.js';

const ADVISORY =
  'embedded (one database user), natal has no roles: separation of duties is advisory, and --as names who acts';

export function registerAccessCommands(program: Command, withGlobals: (c: Command) => Command): void {
  const access = program
    .command('access')
    .description(`who holds which of natal's roles (${NATAL_ROLES.join(', ')}); a server only`);
  for (const [verb, grant] of [
    ['grant', true],
    ['revoke', false],
  ] as const) {
    withGlobals(
      access
        .command(`${verb} <login> <roles...>`)
        .description(`${grant ? 'make' : 'stop making'} a login a member of natal's roles (an admin's job)`),
    ).action((login: string, roles: string[], _o, cmd: Command) =>
      runWithRegistry(cmd, async (registry) => {
        // A role that is not natal's is a usage error here (exit 2); the library says
        // INVALID_ARGUMENT. The login is checked first, as the library does.
        assertIdentifier(login, 'login');
        const unknown = roles.find((r) => !(NATAL_ROLES as readonly string[]).includes(r));
        if (unknown !== undefined) {
          throw new NatalError('USAGE', `${unknown} is not one of natal's roles: ${NATAL_ROLES.join(', ')}`);
        }
        const entry = grant
          ? await registry.grantAccess(login, roles)
          : await registry.revokeAccess(login, roles);
        return {
          json: entry,
          text: `${entry.login}: ${entry.roles.length ? entry.roles.join(', ') : 'no natal role'}`,
        };
      }),
    );
  }
  withGlobals(access.command('list').description("every login that holds one of natal's roles")).action(
    (_o, cmd: Command) =>
      runWithRegistry(cmd, async (registry) => {
        const list = await registry.access();
        const text =
          registry.db.kind === 'embedded'
            ? ADVISORY
            : list.length
              ? table(
                  ['login', 'roles'],
                  list.map((a) => [a.login, a.roles.join(', ')]),
                )
              : 'no login holds a natal role yet: natal access grant LOGIN ROLE…';
        return { json: list, text };
      }),
  );
}
