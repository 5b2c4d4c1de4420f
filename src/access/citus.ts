/**
 * natal's definer on a Citus cluster's workers (docs/SCALE.md). natal reads a distributed
 * table through Citus's connections to the workers, which Citus makes as the role running
 * the query: the table's owner for a read made as the owner, natal's definer for its own
 * (a plan's count, a census's sums). The definer is NOLOGIN on the coordinator, where people
 * connect; on each worker it may log in, with a password natal makes at random and gives to
 * Citus alone (`pg_dist_authinfo`, which only superusers read), so that no person logs in as
 * it anywhere. `natal init` (a superuser's) makes it so on every worker, and again after a
 * worker is added.
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/backend.js';
import { NatalError } from '../errors.js';
import { roleName } from './roles.js';

/** Makes natal's definer log in on every worker; the number of workers (0: not Citus). */
export async function definerOnWorkers(tx: Queryable, schema: string): Promise<number> {
  const definer = roleName(schema, 'definer');
  const { rows } = await tx.query<{ citus: boolean; su: boolean; has: boolean }>(
    `SELECT to_regclass('pg_catalog.pg_dist_authinfo') IS NOT NULL AS citus,
            COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS su,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS has`,
    [definer],
  );
  if (!rows[0]?.citus || !rows[0].su || !rows[0].has) return 0;
  // The password Citus has already (an init again keeps it), or a new one.
  const { rows: auth } = await tx.query<{ authinfo: string }>(
    `SELECT authinfo FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1`,
    [definer],
  );
  let password = /(?:^|\s)password=(\S+)/.exec(auth[0]?.authinfo ?? '')?.[1];
  if (!password) {
    password = randomBytes(24).toString('hex');
    await tx.query(`DELETE FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1`, [definer]);
    await tx.query(`INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2)`, [
      definer,
      `password=${password}`,
    ]);
  }
  // On each worker, in one transaction there, without sending it on to the other nodes.
  const { rows: done } = await tx.query<{ node: string; success: boolean; result: string }>(
    `SELECT w.nodename || ':' || w.nodeport AS node, w.success, w.result
     FROM run_command_on_workers(format(
       'SET LOCAL citus.enable_ddl_propagation = off; '
       'DO $natal$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %L) THEN CREATE ROLE %I; END IF; END $natal$; '
       'ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $1::text, $1::text, $2::text)) AS w`,
    [definer, password],
  );
  const failed = done.find((d) => !d.success);
  if (failed) {
    throw new NatalError(
      'INSTALL_REFUSED',
      `natal's definer ${definer} could not be made on the worker ${failed.node}: ${failed.result}; natal init needs a superuser on every node`,
    );
  }
  return done.length;
}

/** Undoes definerOnWorkers: the definer's login on the workers, and its password at Citus. */
export async function definerOffWorkers(q: Queryable, schema: string): Promise<void> {
  const definer = roleName(schema, 'definer');
  const { rows } = await q.query<{ citus: boolean }>(
    `SELECT to_regclass('pg_catalog.pg_dist_authinfo') IS NOT NULL AS citus`,
  );
  if (!rows[0]?.citus) return;
  await q.query('DELETE FROM pg_dist_authinfo WHERE rolename = $1', [definer]);
  await q.query(
    `SELECT run_command_on_workers(format('SET LOCAL citus.enable_ddl_propagation = off; DROP ROLE IF EXISTS %I', $1::text))`,
    [definer],
  );
}
