/**
 * A registry for the dashboard's tests: one wired collection with an owner, rows that
 * predate it, and a plan of them rehearsed by its author; on a server, the people are login
 * roles holding only their natal role (author: operator; reviewer; owner: reader), plus a
 * role that may not log in.
 */
import pg from 'pg';
import { quoteIdent } from '../../src/db/ident.js';
import { Registry } from '../../src/registry.js';
import { serveDashboard, type Served } from '../../src/serve/server.js';
import { SERVER_URL, type TestBackend } from './backends.js';

export interface DashboardFixture {
  schema: string;
  app: string;
  table: string;
  /** Embedded: the data directory natal serve opens. */
  dataDir: string | undefined;
  people: { author: string; reviewer: string; owner: string; nologin: string };
  password: string;
  planId: number;
  rows: number;
  /** A code born by the trigger (row id 1), for the entity page. */
  bornCode: string;
  /** Opens the registry as a superuser (server) or as `as` (embedded). */
  open(as?: string): Promise<Registry>;
  /** natal serve on it, on any free port: embedded as `as`, on a server for whoever logs in. */
  serve(as?: string, sessionMinutes?: number): Promise<Served>;
  cleanup(): Promise<void>;
}

export async function dashboardFixture(backend: TestBackend, rows = 3000): Promise<DashboardFixture> {
  const server = backend.name === 'server';
  const schema = backend.uniqueName('natal');
  const app = backend.uniqueName('app');
  const a = quoteIdent(app);
  const dataDir = server ? undefined : backend.freshDataDir();
  const people = server
    ? { author: `${schema}_au`, reviewer: `${schema}_rv`, owner: `${schema}_ow`, nologin: `${schema}_nl` }
    : { author: 'ana', reviewer: 'rob', owner: 'olga', nologin: 'nobody' };
  const password = 'a password nobody logs';
  const open = (as?: string) =>
    server
      ? Registry.open({ db: SERVER_URL, schema, as })
      : Registry.open({ dataDir, schema, as, create: true });
  const su = server ? new pg.Client({ connectionString: SERVER_URL }) : undefined;
  await su?.connect();
  const dba = await open();
  let planId = 0;
  try {
    await dba.init();
    if (su) {
      for (const role of [people.author, people.reviewer, people.owner])
        await su.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD '${password}'`);
      await su.query(`CREATE ROLE ${quoteIdent(people.nologin)} NOLOGIN`);
      // the author may review too, but not a plan of hers
      await dba.grantAccess(people.author, ['operator', 'reviewer']);
      await dba.grantAccess(people.reviewer, ['reviewer']);
      await dba.grantAccess(people.owner, ['reader']);
    }
    await dba.db.exec(`CREATE SCHEMA ${a};
      CREATE TABLE ${a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${a}.items SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;
      GRANT USAGE ON SCHEMA ${a} TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;`);
    await dba.addSpecies({ code: 'SPE-ITM', prefix: 'ITM', level: 'atom' });
    await dba.addCollection({ table: `${app}.items`, species: 'SPE-ITM', owner: people.owner });
    await dba.wire([`${app}.items`]);
  } finally {
    await dba.close();
  }
  const author = await open(people.author);
  try {
    const plan = await author.plan([`${app}.items`]);
    planId = plan.plan_id;
    await author.rehearse(planId);
  } finally {
    await author.close();
  }
  // one row born by its trigger, after the plan: its code is the entity page's
  const r = await open();
  let bornCode = '';
  try {
    await r.db.exec(`INSERT INTO ${a}.items VALUES (${rows + 1}, 'new')`);
    const { rows: b } = await r.db.query<{ c: string }>(
      `SELECT entity_code AS c FROM ${quoteIdent(schema)}.birth_registry WHERE collection_name = $1 AND operation = 'trigger'`,
      [`${app}.items`],
    );
    bornCode = b[0]?.c ?? '';
  } finally {
    await r.close();
  }
  return {
    schema,
    app,
    table: `${app}.items`,
    dataDir,
    people,
    password,
    planId,
    rows,
    bornCode,
    open,
    serve: (as, sessionMinutes) =>
      serveDashboard({
        ...(server ? { db: SERVER_URL } : { dataDir, as }),
        schema,
        port: 0,
        sessionMinutes,
      }),
    async cleanup() {
      if (!su) return;
      await su.query(`DROP SCHEMA IF EXISTS ${a} CASCADE`);
      for (const role of Object.values(people)) {
        const { rowCount } = await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        if (!rowCount) continue;
        await su.query(`DROP OWNED BY ${quoteIdent(role)} CASCADE; DROP ROLE ${quoteIdent(role)}`);
      }
      await su.end();
    },
  };
}
