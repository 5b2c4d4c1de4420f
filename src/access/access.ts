/** natal access: who holds which of natal's roles (a server only; see sql/functions/access.sql). */
import type { Ctx } from '../context.js';
import { assertIdentifier } from '../db/ident.js';
import { NatalError } from '../errors.js';
import { NATAL_ROLES, type NatalRole } from './roles.js';

export interface AccessEntry {
  login: string;
  roles: string[];
}

function assertRoles(roles: string[]): NatalRole[] {
  if (roles.length === 0)
    throw new NatalError('INVALID_ARGUMENT', `name at least one role: ${NATAL_ROLES.join(', ')}`);
  for (const r of roles) {
    if (!(NATAL_ROLES as readonly string[]).includes(r)) {
      throw new NatalError('INVALID_ARGUMENT', `${r} is not one of natal's roles: ${NATAL_ROLES.join(', ')}`);
    }
  }
  return roles as NatalRole[];
}

/** Grants (or revokes) natal's `roles` to `login`, in the caller's transaction. */
export async function changeAccess(
  ctx: Ctx,
  login: string,
  roles: string[],
  grant: boolean,
): Promise<AccessEntry> {
  assertIdentifier(login, 'login');
  for (const role of assertRoles(roles)) {
    await ctx.db.query(`SELECT ${ctx.ns}.access_change($1, $2, $3)`, [login, role, grant]);
  }
  return (await listAccess(ctx)).find((a) => a.login === login) ?? { login, roles: [] };
}

export async function listAccess(ctx: Ctx): Promise<AccessEntry[]> {
  const { rows } = await ctx.db.query<AccessEntry>(`SELECT login, roles FROM ${ctx.ns}.access_list()`);
  return rows;
}
