/**
 * The gate against database users who are not superusers, each attack tried as the role
 * natal's role model gives that person (a server only: embedded there is one user and no
 * roles). alice is natal's admin, oscar an operator, bob a reviewer, olga owns the data
 * (a reader), app an application (a writer). The tables belong to app_owner.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects } from './helpers/setup.js';

const unique = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

describe(
  'trust: the gate against every role that is not a superuser [server]',
  SERVER_URL === undefined ? { skip: 'no PostgreSQL server (NATAL_TEST_DATABASE_URL)' } : {},
  () => {
    const schema = unique('natal');
    const app = unique('app');
    const suffix = randomBytes(3).toString('hex');
    const people = { alice: 'admin', oscar: 'operator', bob: 'reviewer', olga: 'reader', app: 'writer' };
    const login = (p: string) => `${p}_${suffix}`;
    const appOwner = `app_owner_${suffix}`;
    /** The owner of a table beside app_owner's (in its schema, of one of its species). */
    const sideOwner = `app_side_${suffix}`;
    const q = quoteIdent(schema);
    const a = quoteIdent(app);
    /** PL/pgSQL of a table owner's that tries to forge a birth of `collection`: it succeeds
     * only when it runs with natal's definer's rights. */
    const forgeAttempt = (code: string, collection: string, species: string, operation = 'trigger') =>
      `BEGIN
        INSERT INTO ${q}.birth_registry (entity_code, collection_name, species_code, composition_level,
                                         dot_origin, governance_role, operation)
        VALUES (${code}, '${collection}', '${species}', 'atom', 'forged', 'governed', '${operation}');
      EXCEPTION WHEN insufficient_privilege THEN NULL;
      END;`;
    let dba: pg.Client;
    let registry: Registry;
    const opened: Registry[] = [];
    const clients: pg.Client[] = [];

    function urlAs(role: string): string {
      const u = new URL(SERVER_URL as string);
      u.username = role;
      return u.toString();
    }
    async function as(person: string): Promise<Registry> {
      const r = await Registry.open({ db: urlAs(login(person)), schema });
      opened.push(r);
      return r;
    }
    /** A function natal made for a collection as a table's owner (its signature), if any. */
    async function ownerFunction(
      name: 'gateway_row_function' | 'gateway_probe_function',
      owner: string,
      collection: string,
    ): Promise<string | undefined> {
      const { rows } = await dba.query<{ f: string }>(
        `SELECT p.oid::regprocedure::text AS f FROM pg_proc p
         WHERE p.pronamespace = $1::regnamespace AND p.proowner = $2::regrole AND p.proname = ${q}.${name}($3)`,
        [schema, owner, collection],
      );
      return rows[0]?.f;
    }
    /** As alice (natal's admin): species SPE-<prefix>, each table of the application's
     * schema a collection of it (code column `code`, owner olga), wired. Returns alice. */
    async function govern(prefix: string, tables: string[]): Promise<Registry> {
      const alice = await as('alice');
      await alice.addSpecies({ code: `SPE-${prefix}`, prefix, level: 'atom' });
      for (const t of tables)
        await alice.addCollection({
          table: `${app}.${t}`,
          species: `SPE-${prefix}`,
          owner: login('olga'),
          codeColumn: 'code',
        });
      await alice.wire(tables.map((t) => `${app}.${t}`));
      return alice;
    }
    async function sqlAs(person: string): Promise<pg.Client> {
      const c = new pg.Client({ connectionString: urlAs(login(person)) });
      await c.connect();
      clients.push(c);
      return c;
    }

    before(async () => {
      dba = new pg.Client({ connectionString: SERVER_URL });
      await dba.connect();
      registry = await Registry.open({ db: SERVER_URL, schema });
      await registry.init();
      await dba.query(`CREATE ROLE ${quoteIdent(appOwner)} NOLOGIN`);
      await dba.query(`CREATE ROLE ${quoteIdent(sideOwner)} NOLOGIN`);
      for (const p of Object.keys(people)) await dba.query(`CREATE ROLE ${quoteIdent(login(p))} LOGIN`);
      await dba.query(`CREATE SCHEMA ${a} AUTHORIZATION ${quoteIdent(appOwner)}`);
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
        INSERT INTO ${a}.rules (code, name) SELECT 'DOM-' || lpad(g::text, 3, '0'), 'r' FROM generate_series(1, 5) g;
        CREATE TABLE ${a}.other (id serial PRIMARY KEY, code text UNIQUE);
        GRANT USAGE ON SCHEMA ${a} TO ${quoteIdent(login('app'))};
        GRANT INSERT ON ${a}.rules TO ${quoteIdent(login('app'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        GRANT USAGE, CREATE ON SCHEMA ${a} TO ${quoteIdent(sideOwner)};
        RESET ROLE`);
      // The DBA lets natal act on the owners' tables, and gives each person a natal role.
      await dba.query(`GRANT ${quoteIdent(appOwner)} TO ${quoteIdent(`${schema}_definer`)}`);
      await dba.query(`GRANT ${quoteIdent(sideOwner)} TO ${quoteIdent(`${schema}_definer`)}`);
      for (const [p, role] of Object.entries(people)) await registry.grantAccess(login(p), [role]);
      const alice = await as('alice');
      await alice.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
      await alice.addCollection({
        table: `${app}.rules`,
        species: 'SPE-DOM',
        owner: login('olga'),
        codeColumn: 'code',
      });
      await alice.addCollection({
        table: `${app}.other`,
        species: 'SPE-DOM',
        owner: login('olga'),
        codeColumn: 'code',
      });
      await alice.wire([`${app}.rules`, `${app}.other`]);
    });

    after(async () => {
      for (const c of clients) await c.end().catch(() => undefined);
      for (const r of opened) await r.close().catch(() => undefined);
      await registry?.close();
      await dba.query(`DROP SCHEMA IF EXISTS ${q} CASCADE`);
      await dba.query(`DROP SCHEMA IF EXISTS ${a} CASCADE`);
      await dropNatalRoles(dba, schema);
      for (const p of Object.keys(people)) await dba.query(`DROP ROLE IF EXISTS ${quoteIdent(login(p))}`);
      await dba.query(`DROP ROLE IF EXISTS ${quoteIdent(appOwner)}`);
      await dba.query(`DROP ROLE IF EXISTS ${quoteIdent(sideOwner)}`);
      await dba.end();
    });

    test('a role that is none of natal’s is told which role it needs', async () => {
      const stranger = `stranger_${suffix}`;
      await dba.query(`CREATE ROLE ${quoteIdent(stranger)} LOGIN`);
      try {
        const r = await Registry.open({ db: urlAs(stranger), schema });
        const cli = await natal(['status', '--db', urlAs(stranger), '--schema', schema]);
        assert.equal(cli.code, 1);
        assert.equal(
          cli.stderr,
          `natal: ${stranger} is not a natal reader (nor any of natal's roles in schema ${schema}): natal access grant ${stranger} reader\n`,
        );
        await rejects(r.assertReady(), 'NOT_PERMITTED', new RegExp(`natal access grant ${stranger} reader`));
        await r.close();
      } finally {
        await dba.query(`DROP ROLE ${quoteIdent(stranger)}`);
      }
    });

    test('natal access lists who holds which role; only an admin grants', async () => {
      const list = await (await as('olga')).access();
      assert.deepEqual(
        list.filter((e) => e.login.endsWith(suffix)),
        Object.entries(people)
          .map(([p, role]) => ({ login: login(p), roles: [role] }))
          .sort((x, y) => x.login.localeCompare(y.login)),
      );
      // natal's own roles are not logins: admin given to natal_reader would make every reader one
      await assert.rejects(
        (await as('alice')).grantAccess(`${schema}_reader`, ['admin']),
        /is one of natal's own roles, not a login/,
      );
      await rejects(
        (await as('oscar')).grantAccess(login('oscar'), ['admin']),
        'NOT_PERMITTED',
        new RegExp(`${login('oscar')} is not a natal admin; natal access grant ${login('oscar')} admin`),
      );
      const plan = await (await as('oscar')).plan([`${app}.rules`]);
      await rejects(
        (await as('olga')).approve(plan.plan_id, 'review'),
        'NOT_PERMITTED',
        new RegExp(`${login('olga')} is not a natal reviewer; natal access grant ${login('olga')} reviewer`),
      );
    });

    test('temp tables cannot stand in for natal’s: a fake rehearsal, review and permit apply nothing', async () => {
      const oscar = await as('oscar');
      const plan = await oscar.plan([`${app}.rules`]);
      const c = await sqlAs('oscar');
      // Every table of natal's, shadowed by a temporary one (the approvals faked below).
      const tables = await c.query<{ t: string }>(
        `SELECT tablename AS t FROM pg_tables WHERE schemaname = $1`,
        [schema],
      );
      assert.equal(tables.rows.length, 21);
      for (const { t } of tables.rows) {
        await c.query(`CREATE TEMP TABLE ${quoteIdent(t)} AS SELECT * FROM ${q}.${quoteIdent(t)}`);
      }
      await c.query(`SET search_path = pg_temp, ${q}`);
      const fp = (
        await c.query(`SELECT fingerprint FROM ${q}.backfill_plan WHERE plan_id = $1`, [plan.plan_id])
      ).rows[0]?.fingerprint;
      await c.query(
        `INSERT INTO pg_temp.backfill_approval (approval_id, plan_id, kind, actor, fingerprint, approved_at)
                     VALUES (1, $1, 'review', 'bob', $2, now()), (2, $1, 'permit', $3, $2, now())`,
        [plan.plan_id, fp, login('olga')],
      );
      await c.query(
        `INSERT INTO pg_temp.birth_backfill_ledger (ledger_id, step, plan_id, actor, dry_run, detail, recorded_at)
                     VALUES (1, 'REHEARSAL', $1, $2, true, $3, now())`,
        [plan.plan_id, login('oscar'), JSON.stringify({ ok: true, fingerprint: fp })],
      );
      await rejects(
        c.query(`SELECT ${q}.apply_begin($1, 100)`, [plan.plan_id]),
        'NB027',
        new RegExp(`plan ${plan.plan_id} has not been rehearsed, so it cannot be applied`),
      );
      await c.query(`SELECT ${q}.rehearse($1)`, [plan.plan_id]);
      await rejects(c.query(`SELECT ${q}.apply_begin($1, 100)`, [plan.plan_id]), 'NB017', /has no review/);
      await rejects(
        c.query(`INSERT INTO ${q}.backfill_approval (plan_id, kind, fingerprint) VALUES ($1, 'review', $2)`, [
          plan.plan_id,
          fp,
        ]),
        '42501',
        /permission denied/,
      );
    });

    test('natal’s admin cannot rewrite history: no trigger to disable, no row to change', async () => {
      const c = await sqlAs('alice');
      await rejects(
        c.query(`ALTER TABLE ${q}.backfill_approval DISABLE TRIGGER ALL`),
        '42501',
        /must be owner/,
      );
      for (const sql of [
        `UPDATE ${q}.birth_backfill_ledger SET actor = 'x'`,
        `DELETE FROM ${q}.birth_backfill_ledger`,
        `TRUNCATE ${q}.birth_backfill_ledger`,
        `INSERT INTO ${q}.birth_registry (entity_code, collection_name, species_code, composition_level, dot_origin, governance_role, operation) VALUES ('DOM-900', 'x', 'SPE-DOM', 'atom', 'x', 'governed', 'gateway')`,
        `UPDATE ${q}.collection_registry SET owner = 'x'`,
      ]) {
        await rejects(c.query(sql), '42501', /permission denied/);
      }
    });

    test('author, reviewer and permitter are three roles: an admin who owns the data cannot permit her own plan', async () => {
      const alice = await as('alice');
      await dba.query(`GRANT ${quoteIdent(`${schema}_operator`)} TO ${quoteIdent(login('alice'))}`);
      await alice.setCollection(`${app}.other`, { owner: login('alice') });
      await dba.query(
        `INSERT INTO ${a}.other (code) SELECT 'DOM-' || (500 + g) FROM generate_series(1, 3) g`,
      );
      // (rows inserted by app_owner's DBA session were born by the trigger; these 3 are)
      const plan = await alice.plan([`${app}.other`]).catch((e: Error) => e);
      if (plan instanceof Error) {
        assert.match(plan.message, /nothing to plan/);
        return;
      }
      await rejects(
        alice.approve(plan.plan_id, 'permit'),
        'APPROVAL_REFUSED',
        /wrote plan \d+ and cannot permit it/,
      );
      await alice.rehearse(plan.plan_id);
      await (await as('bob')).approve(plan.plan_id, 'review');
      await rejects(
        (await as('bob')).approve(plan.plan_id, 'permit'),
        'APPROVAL_REFUSED',
        /already gave plan \d+ its review/,
      );
      await dba.query(`REVOKE ${quoteIdent(`${schema}_operator`)} FROM ${quoteIdent(login('alice'))}`);
    });

    test('an operator cannot make or commit a run but through the gate: no rehearsal-mode writes', async () => {
      const c = await sqlAs('oscar');
      const plan = (await c.query(`SELECT max(plan_id) AS p FROM ${q}.backfill_plan`)).rows[0]?.p;
      await rejects(
        c.query(`INSERT INTO ${q}.backfill_run (plan_id, batch_size, rehearsal) VALUES ($1, 10, true)`, [
          plan,
        ]),
        '42501',
        /permission denied/,
      );
      await rejects(
        c.query(`UPDATE ${q}.backfill_run SET status = 'completed'`),
        '42501',
        /permission denied/,
      );
      await rejects(
        c.query(`SELECT * FROM ${q}.apply_batch(1, NULL, true)`),
        'NB015',
        /run 1 does not exist|is not a rehearsal/,
      );
    });

    test('the gate’s order for every role: rehearse, then review, permit and apply', async () => {
      const [oscar, bob, olga] = [await as('oscar'), await as('bob'), await as('olga')];
      const plan = (await oscar.plan([`${app}.rules`])).plan_id;
      const unrehearsed = (doing: string) =>
        new RegExp(
          `^plan ${plan} has not been rehearsed, so it cannot be ${doing}; rehearse it first: natal rehearse ${plan}$`,
        );
      await rejects(bob.approve(plan, 'review'), 'REHEARSAL_REQUIRED', unrehearsed('reviewed'));
      await rejects(olga.approve(plan, 'permit'), 'REHEARSAL_REQUIRED', unrehearsed('permitted'));
      // every other path a role that is not a superuser has to an approval is closed …
      for (const [person, kind] of [
        ['bob', 'review'],
        ['olga', 'permit'],
        ['oscar', 'review'],
        ['alice', 'permit'],
      ] as const) {
        const c = await sqlAs(person);
        await rejects(
          c.query(
            `INSERT INTO ${q}.backfill_approval (plan_id, kind, fingerprint) SELECT $1, $2, fingerprint FROM ${q}.backfill_plan WHERE plan_id = $1`,
            [plan, kind],
          ),
          '42501',
          /permission denied/,
        );
        await rejects(
          c.query(`SELECT ${q}.approve_plan($1, $2)`, [plan, kind]),
          person === 'bob' || person === 'olga' ? 'NB027' : person === 'oscar' ? 'NB023' : 'NB016',
        );
      }
      // … and a review and a permit a superuser wrote (which would count: a superuser is not
      // the author and acts for every owner) do not open the apply to an operator either
      await dba.query(
        `INSERT INTO ${q}.backfill_approval (plan_id, kind, fingerprint)
         SELECT $1, k::${q}.approval_kind, fingerprint FROM ${q}.backfill_plan, unnest('{review,permit}'::text[]) AS k
         WHERE plan_id = $1`,
        [plan],
      );
      const births = async () =>
        Number((await dba.query(`SELECT count(*)::int AS n FROM ${q}.birth_registry`)).rows[0]?.n);
      const b0 = await births();
      await rejects(oscar.apply(plan), 'REHEARSAL_REQUIRED', unrehearsed('applied'));
      const c = await sqlAs('oscar');
      await rejects(
        c.query(`SELECT ${q}.apply_begin($1, 100)`, [plan]),
        'NB027',
        new RegExp(`^plan ${plan} has not been rehearsed, so it cannot be applied$`),
      );
      assert.equal(await births(), b0);

      // a failed rehearsal (a row gone since the plan) holds review, permit and apply back
      await dba.query(`DELETE FROM ${a}.rules WHERE code = 'DOM-005'`);
      const failed = await oscar.rehearse(plan);
      assert.equal(failed.ok, false);
      const why = new RegExp(
        `^plan ${plan}'s rehearsal failed \\(${app}\\.rules: 4 born of 5 expected\\), so it cannot be (reviewed|permitted|applied); ` +
          `the rows of ${app}\\.rules without a birth are not those planned \\(rows added or removed since\\): make a new plan`,
      );
      await rejects(bob.approve(plan, 'review'), 'REHEARSAL_REQUIRED', why);
      await rejects(olga.approve(plan, 'permit'), 'REHEARSAL_REQUIRED', why);
      await rejects(oscar.apply(plan), 'REHEARSAL_REQUIRED', why);
      assert.equal(await births(), b0);

      // the happy path, in its order
      const next = (await oscar.plan([`${app}.rules`])).plan_id;
      const rehearsal = await oscar.rehearse(next);
      assert.deepEqual([rehearsal.ok, rehearsal.why, rehearsal.next], [true, null, null]);
      await bob.approve(next, 'review');
      await olga.approve(next, 'permit');
      const applied = await oscar.apply(next);
      assert.deepEqual([applied.born, applied.confirmed], [4, true]);
      assert.equal(await births(), b0 + 4);
    });

    test('an owner must be a role that exists', async () => {
      await rejects(
        (await as('alice')).setCollection(`${app}.rules`, { owner: 'nobody_such_role' }),
        'INVALID_ARGUMENT',
        /owner nobody_such_role is not a database role/,
      );
    });

    test('an application needs only natal_writer: its rows are born, it cannot forge a birth', async () => {
      const c = await sqlAs('app');
      await c.query(`INSERT INTO ${a}.rules (code, name) VALUES ('DOM-100', 'by the app')`);
      const born = await dba.query(
        `SELECT operation::text FROM ${q}.birth_registry WHERE entity_code = 'DOM-100'`,
      );
      assert.equal(born.rows[0]?.operation, 'trigger');
      const created = await c.query(`SELECT ${q}.create_entity($1, '{"name": "first"}', 'app') AS b`, [
        `${app}.rules`,
      ]);
      assert.match(created.rows[0]?.b.entity_code, /^DOM-\d+$/);
      await rejects(
        c.query(
          `INSERT INTO ${q}.birth_registry (entity_code, collection_name, species_code, composition_level, dot_origin, governance_role, operation) VALUES ('DOM-901', $1, 'SPE-DOM', 'atom', 'x', 'governed', 'gateway')`,
          [`${app}.rules`],
        ),
        '42501',
        /permission denied/,
      );
      // The gateway inserts with natal's rights, so only into a table the app may insert into.
      await rejects(
        c.query(`SELECT ${q}.create_entity($1, '{}', 'app')`, [`${app}.other`]),
        'NB025',
        /may not insert into/,
      );
      await rejects(c.query(`SELECT ${q}.census(ARRAY[$1])`, [`${app}.rules`]), '42501', /permission denied/);
    });

    test('no natal role can put a generated trigger function on a table of its own', async () => {
      // Without a transition table, the function would read a temporary relation of the
      // caller's named natal_new (or natal_old) with natal's rights: a view whose condition
      // runs the caller's code, and a forged birth. Every natal role is refused the function.
      const fns = (
        await dba.query<{ fn: string }>(
          `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
           WHERE p.pronamespace = $1::regnamespace
             AND p.proname ~ '^(birth_auto|birth_upd|birth_death)_[0-9a-f]{16}$'`,
          [q],
        )
      ).rows.map((r) => r.fn);
      assert.ok(fns.length >= 3, 'the wired collections have their trigger functions');
      for (const person of Object.keys(people)) {
        const c = await sqlAs(person);
        await c.query(`CREATE TEMP TABLE mine (code text)`);
        for (const fn of fns) {
          await rejects(
            c.query(
              `CREATE TRIGGER t AFTER INSERT ON pg_temp.mine FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`,
            ),
            '42501',
            /permission denied for function/,
          );
        }
        await c.query(`DROP TABLE pg_temp.mine`);
      }
    });

    test('a table owner’s code runs as the table owner when the gateway inserts, never as natal’s definer', async () => {
      // As the table's owner (no natal role): a trigger that tries to forge a birth, and a
      // column default that writes down whose rights it runs with. The gateway inserts the
      // row; natal's definer acts on the owner's tables, but the owner's code must not act
      // with natal's rights.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.seen (who text, forged boolean);
        CREATE FUNCTION ${a}.spy() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            BEGIN
              INSERT INTO ${q}.birth_registry (entity_code, collection_name, species_code, composition_level,
                                                dot_origin, governance_role, operation)
              VALUES ('DOM-966', '${app}.rules', 'SPE-DOM', 'atom', 'forged', 'governed', 'gateway');
              INSERT INTO ${a}.seen VALUES (current_user, true);
            EXCEPTION WHEN insufficient_privilege THEN
              INSERT INTO ${a}.seen VALUES (current_user, false);
            END;
            RETURN NEW;
          END $$;
        CREATE FUNCTION ${a}.who() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
        CREATE TRIGGER spy BEFORE INSERT ON ${a}.rules FOR EACH ROW EXECUTE FUNCTION ${a}.spy();
        ALTER TABLE ${a}.rules ADD COLUMN made_by text DEFAULT ${a}.who();
        RESET ROLE`);
      // (the table changed: wired again, so that what natal triggers says below is the
      // change to the gateway's insert, not this one)
      await (await as('alice')).wire([`${app}.rules`]);
      try {
        const c = await sqlAs('app');
        const made = await c.query(`SELECT ${q}.create_entity($1, '{"name": "watched"}', 'app') AS b`, [
          `${app}.rules`,
        ]);
        const code = made.rows[0]?.b.entity_code as string;
        assert.deepEqual((await dba.query(`SELECT who, forged FROM ${a}.seen`)).rows, [
          { who: appOwner, forged: false },
        ]);
        assert.deepEqual((await dba.query(`SELECT made_by FROM ${a}.rules WHERE code = $1`, [code])).rows, [
          { made_by: appOwner },
        ]);
        assert.equal(
          (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code = 'DOM-966'`)).rowCount,
          0,
          'no forged birth',
        );
        // The owner cannot turn the function natal made for this into one that runs as natal.
        const fn = await ownerFunction('gateway_row_function', appOwner, `${app}.rules`);
        assert.ok(fn, 'the gateway’s insert is a function of the table’s owner');
        // Without a natal role the owner cannot even name it (no USAGE on natal's schema); with
        // one, it can alter its properties, and the gateway then refuses to insert.
        await rejects(
          dba.query(`SET ROLE ${quoteIdent(appOwner)}; ALTER FUNCTION ${fn} SECURITY INVOKER`),
          '42501',
          /permission denied for schema/,
        );
        await dba.query('RESET ROLE');
        await registry.grantAccess(appOwner, ['reader']);
        // … and point its search_path at its own schema, where a type and an operator that
        // natal's check could use would run their code as natal's definer: evidence of it
        // is a sequence's value, which no rollback undoes.
        await dba.query(`SET ROLE ${quoteIdent(appOwner)};
          CREATE SEQUENCE ${a}.evidence;
          CREATE FUNCTION ${a}.caught(t text) RETURNS boolean LANGUAGE sql AS
            $$ SELECT pg_catalog.setval('${a}.evidence', 666) > 0 OR current_user::text <> '${appOwner}' $$;
          CREATE DOMAIN ${a}.jsonb AS pg_catalog.jsonb CHECK (${a}.caught('domain'));
          CREATE FUNCTION ${a}.cat(text, text) RETURNS text LANGUAGE sql AS
            $$ SELECT CASE WHEN ${a}.caught('op') THEN $1 OPERATOR(pg_catalog.||) $2 END $$;
          CREATE OPERATOR ${a}.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = ${a}.cat);
          ALTER FUNCTION ${fn} SECURITY INVOKER SET search_path = ${a}, pg_catalog;
          RESET ROLE`);
        assert.match(
          (await (await as('olga')).triggers()).find((t) => t.collection_name === `${app}.rules`)?.problem ??
            '',
          /gateway insert or probe altered/,
          'natal triggers sees it',
        );
        await rejects(
          c.query(`SELECT ${q}.create_entity($1, '{"name": "again"}', 'app')`, [`${app}.rules`]),
          'NB025',
          /altered/,
        );
        await rejects(
          dba.query(
            `SET ROLE ${quoteIdent(appOwner)}; CREATE OR REPLACE FUNCTION ${fn.replace(/\(.*$/, '')}(p_data jsonb, v_code text, v_origin text) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'`,
          ),
          '42501',
          /permission denied for schema/,
        );
        await dba.query('RESET ROLE');
        assert.equal((await dba.query(`SELECT 1 FROM ${a}.seen WHERE forged`)).rowCount, 0);
        assert.deepEqual(
          (await dba.query(`SELECT last_value::int AS v, is_called FROM ${a}.evidence`)).rows,
          [{ v: 1, is_called: false }],
          'nothing of the owner’s ran inside natal’s check',
        );
      } finally {
        await dba.query('RESET ROLE');
        await registry.revokeAccess(appOwner, ['reader']).catch(() => undefined);
        await dba.query(
          `DROP TRIGGER IF EXISTS spy ON ${a}.rules; ALTER TABLE ${a}.rules DROP COLUMN IF EXISTS made_by;
           DROP OPERATOR IF EXISTS ${a}.|| (text, text); DROP DOMAIN IF EXISTS ${a}.jsonb`,
        );
        await (await as('alice')).wire([`${app}.rules`]);
      }
    });

    test('a cast of a table owner’s type never runs as natal’s definer: such columns are refused, and a column re-made with one stops natal’s trigger', async () => {
      // As the table's owner (no natal role): a type of its own with a cast to text that
      // records (in a sequence: no rollback undoes it) when it runs as anyone but the owner.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE SEQUENCE ${a}.cast_evidence;
        CREATE TYPE ${a}.xcode AS ENUM ('DOM-700', 'DOM-701', 'DOM-702');
        CREATE FUNCTION ${a}.xtext(v ${a}.xcode) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN
            IF current_user::text <> '${appOwner}' THEN PERFORM pg_catalog.setval('${a}.cast_evidence', 666); END IF;
            RETURN pg_catalog.textin(pg_catalog.enum_out(v));
          END $$;
        CREATE CAST (${a}.xcode AS text) WITH FUNCTION ${a}.xtext(${a}.xcode) AS IMPLICIT;
        CREATE TABLE ${a}.typed (id int PRIMARY KEY, code ${a}.xcode UNIQUE);
        CREATE TABLE ${a}.remade (id int PRIMARY KEY, code text UNIQUE);
        GRANT INSERT ON ${a}.remade TO ${quoteIdent(login('app'))};
        RESET ROLE`);
      const evidence = async () =>
        (await dba.query(`SELECT last_value::int AS v FROM ${a}.cast_evidence`)).rows[0]?.v as number;
      const alice = await as('alice');
      // A code column of the owner's type: refused when registered.
      await rejects(
        alice.addCollection({ table: `${app}.typed`, species: 'SPE-DOM', codeColumn: 'code' }),
        'IDENTITY_UNCLASSIFIED',
        /type its table's owner created/,
      );
      // A text code column, wired; then dropped and added again with the owner's type.
      await alice.addCollection({ table: `${app}.remade`, species: 'SPE-DOM', codeColumn: 'code' });
      await alice.wire([`${app}.remade`]);
      // rows born before the change, for the deletes below
      await dba.query(
        `INSERT INTO ${a}.remade SELECT g, 'REMADE-' || g FROM generate_series(10000, 14999) AS g`,
      );
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        ALTER TABLE ${a}.remade DROP COLUMN code CASCADE;
        ALTER TABLE ${a}.remade ADD COLUMN code ${a}.xcode;
        UPDATE ${a}.remade SET code = 'DOM-700'; -- (natal_birth_update went with the column)
        RESET ROLE`);
      // one row (its types checked per row), a statement of 5,000 rows and a DELETE of 5,000
      // (checked once per statement, from the catalog)
      for (const statement of [
        `INSERT INTO ${a}.remade VALUES (1, 'DOM-701')`,
        `INSERT INTO ${a}.remade SELECT g, 'DOM-701' FROM generate_series(1000, 5999) AS g`,
        `DELETE FROM ${a}.remade`,
      ]) {
        await rejects(
          dba.query(`SET ROLE ${quoteIdent(appOwner)}; ${statement}`),
          'NB006',
          /changed its type since natal wired it/,
        );
        await dba.query('RESET ROLE');
      }
      // The gateway probes the column and inserts the row with the owner's rights: the
      // owner's cast may run there, as the owner's; the insert of a text code fails.
      const c = await sqlAs('app');
      await rejects(
        c.query(`SELECT ${q}.create_entity($1, '{"id": 2}', 'app')`, [`${app}.remade`]),
        '42804',
        /is of type .*xcode but expression is of type text/,
      );
      assert.equal(await evidence(), 1, 'the owner’s cast never ran as natal');
      assert.match(
        (await (await as('olga')).triggers()).find((t) => t.collection_name === `${app}.remade`)?.problem ??
          '',
        /type its table's owner created/,
        'natal triggers says why it cannot be wired',
      );
      await assert.rejects(alice.wire([`${app}.remade`]), /type its table's owner created/);
    });

    test('a table owner’s row-level security runs nothing as natal’s definer and hides no row from a census', async () => {
      // As the table's owner (no natal role): a policy whose function writes who runs it,
      // forced on the owner and so on natal's definer, who acts on the owner's tables.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.spy (who text);
        CREATE FUNCTION ${a}.seen(p text) RETURNS boolean LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO ${a}.spy VALUES (current_user); RETURN false; END $$;
        ALTER TABLE ${a}.rules ENABLE ROW LEVEL SECURITY;
        ALTER TABLE ${a}.rules FORCE ROW LEVEL SECURITY;
        CREATE POLICY hide ON ${a}.rules USING (${a}.seen(code));
        RESET ROLE`);
      try {
        const olga = await as('olga');
        await assert.rejects(olga.census([`${app}.rules`]), /row-level security/);
        await assert.rejects(olga.show('DOM-001'), /row-level security/);
        assert.deepEqual((await dba.query(`SELECT who FROM ${a}.spy`)).rows, [], 'the policy never ran');
        // The auto-birth trigger runs without row_security off (it reads only the statement's
        // rows): a row the policies let in is born, and no policy runs as natal's definer.
        await dba.query(`SET ROLE ${quoteIdent(appOwner)};
          CREATE POLICY let_in ON ${a}.rules FOR INSERT WITH CHECK (true);
          INSERT INTO ${a}.rules (code, name) VALUES ('DOM-970', 'under a forced policy');
          DROP POLICY let_in ON ${a}.rules;
          RESET ROLE`);
        assert.equal(
          (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code = 'DOM-970'`)).rowCount,
          1,
          'born',
        );
        assert.deepEqual((await dba.query(`SELECT who FROM ${a}.spy`)).rows, [], 'the policy never ran');
        // no policy at all: FORCE alone would hide every row; refused too, not a census without a gap
        await dba.query(`SET ROLE ${quoteIdent(appOwner)}; DROP POLICY hide ON ${a}.rules; RESET ROLE`);
        await assert.rejects(olga.census([`${app}.rules`]), /row-level security/);
      } finally {
        await dba.query(`SET ROLE ${quoteIdent(appOwner)};
          DROP POLICY IF EXISTS hide ON ${a}.rules;
          ALTER TABLE ${a}.rules NO FORCE ROW LEVEL SECURITY;
          ALTER TABLE ${a}.rules DISABLE ROW LEVEL SECURITY;
          RESET ROLE`);
      }
      // as it was: counted
      const [{ n }] = (await dba.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${a}.rules`)).rows as [
        { n: number },
      ];
      assert.equal((await (await as('olga')).census([`${app}.rules`])).collections[0]?.rows, n);
    });

    test('a table its owner replaces by a view is not read: no census, and the gateway refuses; a probe of another owner’s table runs as that owner, and what it did is undone', async () => {
      // Two wired collections of one species and two owners (the gateway of the one probes
      // the other's codes, in a function of the other's owner), then, as the second table's
      // owner (no natal role): its table renamed, and a view of the same name in its place
      // whose code column calls a function of the owner's that writes who runs it and forges a
      // birth (natal's definer could write the registry).
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.vue_main (id serial PRIMARY KEY, code text UNIQUE, name text);
        GRANT INSERT ON ${a}.vue_main TO ${quoteIdent(login('app'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        GRANT USAGE ON SCHEMA ${a} TO PUBLIC;
        SET ROLE ${quoteIdent(sideOwner)};
        CREATE TABLE ${a}.vue_side (id int PRIMARY KEY, code text UNIQUE);
        RESET ROLE`);
      await govern('VUE', ['vue_main', 'vue_side']);
      // The owner's function a view calls: it counts who runs it (the owner or another role,
      // in sequences, which no rollback undoes), and forges a birth when it runs with the
      // rights to (as natal's definer).
      const forger = `CREATE TABLE ${a}.seen_by (who text);
        CREATE SEQUENCE IF NOT EXISTS ${a}.seen_owner;
        CREATE SEQUENCE IF NOT EXISTS ${a}.seen_other;
        GRANT USAGE ON SEQUENCE ${a}.seen_owner, ${a}.seen_other TO PUBLIC;
        CREATE FUNCTION ${a}.forge(c text) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_catalog.nextval((CASE WHEN current_user::text = '${sideOwner}' THEN '${a}.seen_owner'
                                           ELSE '${a}.seen_other' END)::pg_catalog.regclass);
          INSERT INTO ${a}.seen_by VALUES (current_user);
          ${forgeAttempt(`'VUE-FORGED-' || c`, `${app}.vue_side`, 'SPE-VUE')}
          RETURN c;
        END $$;`;
      const forged = async () =>
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code LIKE 'VUE-FORGED-%'`)).rowCount;
      const readers = async () => {
        const r = (
          await dba.query<{ o: boolean; x: boolean }>(
            `SELECT (SELECT is_called FROM ${a}.seen_owner) AS o, (SELECT is_called FROM ${a}.seen_other) AS x`,
          )
        ).rows[0];
        return [...(r?.o ? [sideOwner] : []), ...(r?.x ? ['another role'] : [])];
      };
      const create = async () =>
        (await sqlAs('app')).query(`SELECT ${q}.create_entity($1, '{"name": "n"}', 'app') AS b`, [
          `${app}.vue_main`,
        ]);
      const restart = `SELECT pg_catalog.setval('${a}.seen_owner', 1, false), pg_catalog.setval('${a}.seen_other', 1, false)`;
      await create(); // the gateway works, probing vue_side
      await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
        ${forger}
        INSERT INTO ${a}.vue_side (id, code) VALUES (1, 'VUE-9001');
        ALTER TABLE ${a}.vue_side RENAME TO vue_real;
        CREATE VIEW ${a}.vue_side AS SELECT id, ${a}.forge(code) AS code FROM ${a}.vue_real;
        RESET ROLE`);
      try {
        const olga = await as('olga');
        const census = await olga.census([`${app}.vue_side`]);
        assert.equal(census.collections[0]?.rows, null, 'a collection with no table: its rows unknown');
        assert.deepEqual(
          (await dba.query(`SELECT who FROM ${a}.seen_by`)).rows,
          [],
          'the census never ran it',
        );
        // (the gateway reads no table that is not the one natal wired, owned as it was then:
        // the view's code would run with the rights of the probe's owner)
        await rejects(create(), 'NB025', /no longer the one natal wired/);
        assert.deepEqual(await readers(), [], 'the gateway ran nothing of the view’s');
        assert.equal(await forged(), 0);
      } finally {
        await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
          DROP VIEW IF EXISTS ${a}.vue_side;
          ALTER TABLE IF EXISTS ${a}.vue_real RENAME TO vue_side;
          DROP FUNCTION IF EXISTS ${a}.forge(text);
          DROP TABLE IF EXISTS ${a}.seen_by;
          RESET ROLE`);
      }
      // the table back: counted again, and the gateway goes on
      assert.equal((await (await as('olga')).census([`${app}.vue_side`])).collections[0]?.rows, 1);
      await create();
      // The other owner's code in its table (a partial index's predicate, which PostgreSQL
      // runs when it plans the probe) runs as that owner, and what it did is undone.
      await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
        ${forger}
        CREATE FUNCTION ${a}.side_spy(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN RETURN ${a}.forge('SPY') IS NOT NULL; END $$;
        CREATE INDEX vue_side_spied ON ${a}.vue_side (id) WHERE ${a}.side_spy(1);
        DELETE FROM ${a}.seen_by; ${restart};
        RESET ROLE`);
      try {
        assert.deepEqual(await readers(), [], '(what CREATE INDEX ran is forgotten)');
        await create();
        assert.deepEqual(await readers(), [sideOwner], 'the gateway’s probe ran it as its owner');
        assert.deepEqual(
          (await dba.query(`SELECT who FROM ${a}.seen_by`)).rows,
          [],
          'and what it wrote in the session is undone',
        );
        assert.equal(await forged(), 0);
      } finally {
        await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
          DROP INDEX IF EXISTS ${a}.vue_side_spied;
          DROP FUNCTION IF EXISTS ${a}.side_spy(int);
          DROP FUNCTION IF EXISTS ${a}.forge(text);
          DROP TABLE IF EXISTS ${a}.seen_by;
          ${restart};
          RESET ROLE`);
      }
      // The probe is a function of that owner's, which it can alter (with a natal role to
      // name it), not make run as anyone else: the gateway then refuses, and natal triggers
      // sees it, until natal wire makes it again.
      const probe = await ownerFunction('gateway_probe_function', sideOwner, `${app}.vue_side`);
      assert.ok(probe, 'the gateway’s probe is a function of the probed table’s owner');
      await registry.grantAccess(sideOwner, ['reader']);
      try {
        await dba.query(
          `SET ROLE ${quoteIdent(sideOwner)}; ALTER FUNCTION ${probe} SECURITY INVOKER; RESET ROLE`,
        );
        await rejects(create(), 'NB025', /probe of .* was altered/);
        assert.match(
          (await (await as('olga')).triggers()).find((t) => t.collection_name === `${app}.vue_main`)
            ?.problem ?? '',
          /gateway insert or probe altered/,
        );
      } finally {
        await dba.query('RESET ROLE');
        await registry.revokeAccess(sideOwner, ['reader']);
        await (await as('alice')).wire([`${app}.vue_main`]);
      }
      await create();
      // PostgreSQL 15 and before turn an empty table with no trigger, index or default into a
      // view in place (an ON SELECT rule named _RETURN): the same OID, so its name still leads
      // there. The gateway checks what the relation is, too.
      const version = Number((await dba.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v);
      if (version >= 160000) return;
      await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
        ${forger}
        CREATE TABLE ${a}.vue_src (id int, code text);
        INSERT INTO ${a}.vue_src VALUES (1, 'VUE-9002');
        DO $$ DECLARE t record; BEGIN
          FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = '${a}.vue_side'::regclass AND NOT tgisinternal LOOP
            EXECUTE format('DROP TRIGGER %I ON ${a}.vue_side', t.tgname);
          END LOOP;
        END $$;
        DELETE FROM ${a}.vue_side;
        ALTER TABLE ${a}.vue_side DROP CONSTRAINT vue_side_pkey, DROP CONSTRAINT vue_side_code_key;
        RESET ROLE`);
      await dba.query(`VACUUM ${a}.vue_side`);
      await dba.query(`SET ROLE ${quoteIdent(sideOwner)};
        CREATE RULE "_RETURN" AS ON SELECT TO ${a}.vue_side DO INSTEAD
          SELECT s.id, ${a}.forge(s.code) AS code FROM ${a}.vue_src s;
        RESET ROLE`);
      assert.equal(
        (
          await dba.query<{ k: string }>(
            `SELECT relkind AS k FROM pg_class WHERE oid = '${a}.vue_side'::regclass`,
          )
        ).rows[0]?.k,
        'v',
      );
      assert.equal((await (await as('olga')).census([`${app}.vue_side`])).collections[0]?.rows, null);
      assert.deepEqual((await dba.query(`SELECT who FROM ${a}.seen_by`)).rows, [], 'the census never ran it');
      await rejects(create(), 'NB025', /no longer the one natal wired/);
      assert.deepEqual(await readers(), [], 'the gateway ran nothing of the view’s');
      assert.equal(await forged(), 0);
    });

    test('a table given to another owner after wiring: the gateway refuses to read it with its old owner’s rights until natal wire', async () => {
      // app.rules' gateway looks into app.other, of the same owner when wired, in its row's
      // insert: a function of that owner's. Given to another role, app.other's code (whatever
      // that role puts in it) would run there with the old owner's rights.
      const c = await sqlAs('app');
      const create = () =>
        c.query(`SELECT ${q}.create_entity($1, '{"name": "moved"}', 'app') AS b`, [`${app}.rules`]);
      await create();
      await dba.query(`ALTER TABLE ${a}.other OWNER TO ${quoteIdent(sideOwner)}`);
      try {
        await rejects(create(), 'NB025', /no longer the one natal wired, or not its owner's/);
        assert.match(
          (await (await as('olga')).triggers()).find((t) => t.collection_name === `${app}.rules`)?.problem ??
            '',
          /stale configuration/,
        );
        // wired again: app.other is probed by a function of its new owner's
        await (await as('alice')).wire([`${app}.rules`, `${app}.other`]);
        await create();
      } finally {
        await dba.query(`ALTER TABLE ${a}.other OWNER TO ${quoteIdent(appOwner)}`);
        await (await as('alice')).wire([`${app}.rules`, `${app}.other`]);
      }
      await create();
    });

    test('a table owner’s code that lets go of natal’s apply lock while a range is read: the range is not kept, and the run resumes', async () => {
      // natal reads a table with its owner's rights, in a subtransaction it rolls back; a
      // session-level advisory lock let go there stays let go. Here a partial index's
      // predicate, which PostgreSQL runs when it plans a read of the table (once the table's
      // description is loaded again: the owner's ALTER TABLE below), does it while the apply
      // reads the rows, once armed, as another apply could then start beside this one.
      const leaky = `${app}.leaky`;
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.leaky (id serial PRIMARY KEY, code text UNIQUE);
        INSERT INTO ${a}.leaky (code) SELECT 'LKY-' || (700 + g) FROM generate_series(1, 3) g;
        CREATE TABLE ${a}.leaky_arm (armed boolean NOT NULL);
        INSERT INTO ${a}.leaky_arm VALUES (false);
        CREATE FUNCTION ${a}.leaky_unlock() RETURNS boolean LANGUAGE plpgsql AS $$
          BEGIN
            IF (SELECT armed FROM ${a}.leaky_arm) THEN PERFORM pg_catalog.pg_advisory_unlock_all(); END IF;
            RETURN true;
          END $$;
        CREATE FUNCTION ${a}.leaky_spy(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN RETURN ${a}.leaky_unlock(); END $$;
        CREATE INDEX leaky_spied ON ${a}.leaky (id) WHERE ${a}.leaky_spy(1);
        RESET ROLE`);
      await govern('LKY', ['leaky']);
      const [oscar, bob, olga] = [await as('oscar'), await as('bob'), await as('olga')];
      const plan = (await oscar.plan([leaky])).plan_id;
      await oscar.rehearse(plan);
      await bob.approve(plan, 'review');
      await olga.approve(plan, 'permit');
      const births = async () =>
        Number(
          (
            await dba.query(`SELECT count(*)::int AS n FROM ${q}.birth_registry WHERE collection_name = $1`, [
              leaky,
            ])
          ).rows[0]?.n,
        );
      const c = await sqlAs('oscar');
      const run = Number(
        (await c.query<{ r: string }>(`SELECT ${q}.apply_begin($1, 100) AS r`, [plan])).rows[0]?.r,
      );
      // the range apply_batch would write next, written as it would write it, armed between
      const next = (
        await c.query<{ collection_name: string; after_key: unknown; upto_key: unknown }>(
          `SELECT * FROM ${q}.apply_next($1, 100)`,
          [run],
        )
      ).rows[0];
      assert.equal(next?.collection_name, leaky);
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        UPDATE ${a}.leaky_arm SET armed = true;
        ALTER TABLE ${a}.leaky SET (fillfactor = 90);
        RESET ROLE`);
      try {
        await rejects(
          c.query(`SELECT * FROM ${q}.apply_range($1, $2, $3, $4)`, [
            run,
            leaky,
            next?.after_key ?? null,
            next?.upto_key ?? null,
          ]),
          'NB019',
          new RegExp(`run ${run} lost natal's apply lock while a range was written`),
        );
        assert.equal(await births(), 0, 'the range read without the lock is not kept');
      } finally {
        await dba.query(`UPDATE ${a}.leaky_arm SET armed = false`);
        await c.end();
      }
      const resumed = await oscar.apply(plan, { resume: run });
      assert.equal(resumed.run_id, run);
      assert.equal(await births(), 3, 'resumed, the run births the three rows');
    });

    test('two gateway calls in one transaction, a probed table or its schema swapped between them: the second is refused, and so is the next transaction’s', async () => {
      // A session that takes no new lock reads the catalog from its cache as the transaction
      // found it; the probe of another owner's table holds its lock only in a subtransaction
      // it rolls back. The check reads the catalog in the statement's snapshot.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.swp_main (id serial PRIMARY KEY, code text UNIQUE, name text);
        GRANT INSERT ON ${a}.swp_main TO ${quoteIdent(login('app'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        SET ROLE ${quoteIdent(sideOwner)};
        CREATE TABLE ${a}.swp_side (id int PRIMARY KEY, code text UNIQUE);
        RESET ROLE`);
      await govern('SWP', ['swp_main', 'swp_side']);
      const c = await sqlAs('app');
      const create = () =>
        c.query(`SELECT ${q}.create_entity($1, '{"name": "n"}', 'app') AS b`, [`${app}.swp_main`]);
      const moved = quoteIdent(`${app}_swapped`);
      const swaps = [
        {
          what: 'the probed table renamed away, a view of its owner’s in its name',
          swap: `SET lock_timeout = '10s'; SET ROLE ${quoteIdent(sideOwner)};
            ALTER TABLE ${a}.swp_side RENAME TO swp_gone;
            CREATE VIEW ${a}.swp_side AS SELECT id, code FROM ${a}.swp_gone;
            RESET ROLE; RESET lock_timeout`,
          undo: `SET ROLE ${quoteIdent(sideOwner)};
            DROP VIEW IF EXISTS ${a}.swp_side;
            ALTER TABLE IF EXISTS ${a}.swp_gone RENAME TO swp_side;
            RESET ROLE`,
          written: `SELECT 1 FROM ${a}.swp_gone`,
        },
        {
          what: 'the schema renamed, another of another role in its name with tables of the same names',
          swap: `SET lock_timeout = '10s';
            ALTER SCHEMA ${a} RENAME TO ${moved};
            CREATE SCHEMA ${a} AUTHORIZATION ${quoteIdent(sideOwner)};
            SET ROLE ${quoteIdent(sideOwner)};
            CREATE TABLE ${a}.swp_main (id serial PRIMARY KEY, code text UNIQUE, name text);
            CREATE TABLE ${a}.swp_side (id int PRIMARY KEY, code text UNIQUE);
            GRANT USAGE ON SCHEMA ${a} TO PUBLIC;
            GRANT ALL ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;
            GRANT ALL ON ALL SEQUENCES IN SCHEMA ${a} TO PUBLIC;
            RESET ROLE; RESET lock_timeout`,
          undo: `DROP SCHEMA IF EXISTS ${a} CASCADE; ALTER SCHEMA ${moved} RENAME TO ${a}`,
          written: `SELECT 1 FROM ${a}.swp_main`,
        },
      ];
      for (const { what, swap, undo, written } of swaps) {
        await c.query('BEGIN');
        try {
          await create();
          await dba.query(swap);
          // in the transaction that called the gateway before, and in one of its own
          await rejects(create(), 'NB025', /no longer the one natal wired/);
          await c.query('ROLLBACK');
          await rejects(create(), 'NB025', /no longer the one natal wired/);
          assert.equal((await dba.query(written)).rowCount, 0, 'nothing written to what took the name');
        } catch (e) {
          throw new Error(`${what}: ${(e as Error).message}`);
        } finally {
          await c.query('ROLLBACK');
          await dba.query(undo);
        }
        await create();
      }
    });

    test('a partition of a wired table given to another role: the gateway refuses to insert through the parent until it is its owner’s again', async () => {
      // The row's insert into the parent runs the partition's triggers with the rights of
      // the role that inserts: here the parent's owner, whose function the gateway calls.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.prt (id int NOT NULL, code text, name text, PRIMARY KEY (id)) PARTITION BY RANGE (id);
        CREATE TABLE ${a}.prt_low PARTITION OF ${a}.prt FOR VALUES FROM (0) TO (1000);
        CREATE TABLE ${a}.prt_high PARTITION OF ${a}.prt FOR VALUES FROM (1000) TO (2000000);
        GRANT INSERT ON ${a}.prt TO ${quoteIdent(login('app'))};
        RESET ROLE`);
      const alice = await govern('PRT', ['prt']);
      const c = await sqlAs('app');
      let id = 1000;
      const create = () =>
        c.query(`SELECT ${q}.create_entity($1, $2, 'app') AS b`, [
          `${app}.prt`,
          JSON.stringify({ id: ++id }),
        ]);
      await create();
      await dba.query(`ALTER TABLE ${a}.prt_high OWNER TO ${quoteIdent(sideOwner)}`);
      try {
        await rejects(create(), 'NB025', /one of its partitions or child tables is another role's/);
        const hint = await create().then(
          () => undefined,
          (e: { hint?: string }) => e.hint,
        );
        assert.match(
          hint ?? '',
          /a partition or child table of another role's: give it to its parent's owner first/,
        );
      } finally {
        await dba.query(`ALTER TABLE ${a}.prt_high OWNER TO ${quoteIdent(appOwner)}`);
      }
      await create();
      assert.equal(
        Number(
          (
            await dba.query(`SELECT count(*)::int AS n FROM ${q}.birth_registry WHERE collection_name = $1`, [
              `${app}.prt`,
            ])
          ).rows[0]?.n,
        ),
        2,
      );
      // A table that had no child when it was wired, given one since: refused until natal
      // wire, which looks at its children from then on.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.inh (id serial PRIMARY KEY, code text UNIQUE, name text);
        GRANT INSERT ON ${a}.inh TO ${quoteIdent(login('app'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        RESET ROLE`);
      await alice.addCollection({
        table: `${app}.inh`,
        species: 'SPE-PRT',
        owner: login('olga'),
        codeColumn: 'code',
      });
      await alice.wire([`${app}.inh`, `${app}.prt`]);
      const inherit = () =>
        c.query(`SELECT ${q}.create_entity($1, '{"name": "n"}', 'app') AS b`, [`${app}.inh`]);
      await inherit();
      await dba.query(
        `SET ROLE ${quoteIdent(appOwner)}; CREATE TABLE ${a}.inh_child () INHERITS (${a}.inh); RESET ROLE`,
      );
      await rejects(inherit(), 'NB025', /one of its partitions or child tables is another role's/);
      await alice.wire([`${app}.inh`, `${app}.prt`]);
      await inherit();
      await dba.query(`ALTER TABLE ${a}.inh_child OWNER TO ${quoteIdent(sideOwner)}`);
      await rejects(inherit(), 'NB025', /one of its partitions or child tables is another role's/);
      await dba.query(`DROP TABLE ${a}.inh_child`);
      await inherit();
    });

    test('code of a table owner’s that PostgreSQL runs to plan a read (an index’s predicate) runs as the owner, never as natal’s definer; nor a cast to json in natal show', async () => {
      // As the table's owner (no natal role): an enum with a cast to json that records (in a
      // sequence: no rollback undoes it) when it runs as anyone but the owner; and an
      // IMMUTABLE function, which PostgreSQL calls when it plans a read of a table whose
      // partial index's predicate calls it with constants: through a function that may write,
      // it writes down who runs it and forges a birth when it can.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE SEQUENCE ${a}.json_evidence;
        CREATE TYPE ${a}.mood AS ENUM ('calm', 'cross');
        CREATE FUNCTION ${a}.mood_json(v ${a}.mood) RETURNS json LANGUAGE plpgsql AS $$
          BEGIN
            IF current_user::text <> '${appOwner}' THEN PERFORM pg_catalog.setval('${a}.json_evidence', 666); END IF;
            RETURN pg_catalog.to_json(v::text);
          END $$;
        CREATE CAST (${a}.mood AS json) WITH FUNCTION ${a}.mood_json(${a}.mood);
        CREATE TABLE ${a}.watched (id serial PRIMARY KEY, code text UNIQUE, mood ${a}.mood DEFAULT 'calm');
        GRANT INSERT ON ${a}.watched TO ${quoteIdent(login('app'))};
        GRANT USAGE ON SCHEMA ${a} TO ${quoteIdent(login('olga'))};
        GRANT SELECT ON ${a}.watched TO ${quoteIdent(login('olga'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        CREATE TABLE ${a}.planned_by (who text);
        CREATE FUNCTION ${a}.plan_write(n int) RETURNS boolean LANGUAGE plpgsql AS $$
          BEGIN
            INSERT INTO ${a}.planned_by VALUES (current_user);
            ${forgeAttempt(`'WAT-FORGED-' || pg_catalog.random()`, `${app}.watched`, 'SPE-WAT')}
            RETURN true;
          END $$;
        CREATE FUNCTION ${a}.plan_spy(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN RETURN ${a}.plan_write(n); END $$;
        RESET ROLE`);
      await govern('WAT', ['watched']);
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        INSERT INTO ${a}.watched (code) SELECT 'WAT-00' || g FROM generate_series(1, 3) AS g;
        RESET ROLE`);
      const readers = async () =>
        (await dba.query<{ who: string }>(`SELECT DISTINCT who FROM ${a}.planned_by`)).rows.map((r) => r.who);
      const forged = async () =>
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code LIKE 'WAT-FORGED-%'`)).rowCount;
      const olga = await as('olga');
      const shown = await olga.show('WAT-001');
      assert.equal(shown.row?.mood, 'calm', 'a column of the owner’s type is shown as its text');
      assert.equal(
        (await dba.query(`SELECT last_value::int AS v FROM ${a}.json_evidence`)).rows[0]?.v,
        1,
        'the owner’s cast to json never ran as natal',
      );
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE INDEX watched_spied ON ${a}.watched (id) WHERE ${a}.plan_spy(1);
        RESET ROLE`);
      // natal reads the table as its owner (owner_read.sql): census, show, classify, wire,
      // the gateway's probe and a TRUNCATE's death trigger plan the read, and the predicate
      // runs, as the owner.
      // (a new session of each, so that the index is new to it)
      const census = await (await as('olga')).census([`${app}.watched`]);
      assert.equal(census.collections[0]?.rows, 3, 'read, as its owner');
      assert.equal((await (await as('olga')).show('WAT-001')).status, 'alive');
      await (await as('alice')).wire([`${app}.watched`]);
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        INSERT INTO ${a}.watched (code) VALUES ('WAT-009');
        RESET ROLE`);
      assert.equal(
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code = 'WAT-009'`)).rowCount,
        1,
        'born',
      );
      const [proposal] = await (await as('olga')).classify([`${app}.watched`]);
      assert.notEqual(proposal?.strategy, 'unclassified', proposal?.why);
      const made = await (
        await sqlAs('app')
      ).query(`SELECT ${q}.create_entity($1, '{}', 'app') AS b`, [`${app}.watched`]);
      assert.match(made.rows[0]?.b.entity_code, /^WAT-\d+$/);
      // The one read a trigger makes of its table, a TRUNCATE's: as the owner too.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)}; TRUNCATE ${a}.watched; RESET ROLE`);
      assert.deepEqual(
        (await readers()).filter((w) => w !== appOwner),
        [],
        'the predicate ran as its owner only',
      );
      assert.equal(await forged(), 0);
      const after = (await (await as('olga')).census([`${app}.watched`])).collections[0];
      assert.equal(after?.rows, 0);
      assert.equal(after?.deaths, 5, 'the truncate recorded every death');
      assert.equal(after?.phantoms, 0);
    });

    test('a table its owner changes while natal waits to read it: what the owner’s code runs, it runs as the owner', async () => {
      // The owner holds the table's lock while it swaps the table for a view (then, while it
      // adds an index whose predicate runs a function of theirs). natal.show looked at the
      // table before, found it clean, and waits for the lock to read the row; once it is
      // granted, PostgreSQL reads what the name leads to then, and plans with the index. natal
      // reads as the table's owner (owner_read.sql): the owner's code runs, with the owner's
      // rights, and forges nothing.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.raced (id serial PRIMARY KEY, code text UNIQUE);
        CREATE TABLE ${a}.raced_by (who text);
        CREATE SEQUENCE ${a}.race_owner;
        CREATE SEQUENCE ${a}.race_other;
        GRANT USAGE ON SCHEMA ${a} TO PUBLIC;
        GRANT USAGE ON SEQUENCE ${a}.race_owner, ${a}.race_other TO PUBLIC;
        CREATE FUNCTION ${a}.race_write(c text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN
            -- (counted in sequences, which no rollback undoes)
            PERFORM pg_catalog.nextval((CASE WHEN current_user::text = '${appOwner}' THEN '${a}.race_owner'
                                             ELSE '${a}.race_other' END)::pg_catalog.regclass);
            INSERT INTO ${a}.raced_by VALUES (current_user);
            ${forgeAttempt(`'RAC-FORGED-' || pg_catalog.random()`, `${app}.raced`, 'SPE-RAC')}
            RETURN c;
          END $$;
        CREATE FUNCTION ${a}.race_spy(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN RETURN ${a}.race_write(n::text) IS NOT NULL; END $$;
        RESET ROLE`);
      await govern('RAC', ['raced']);
      await dba.query(`INSERT INTO ${a}.raced (code) VALUES ('RAC-001'), ('RAC-002')`);
      const oid = (await dba.query<{ o: number }>(`SELECT $1::regclass::oid AS o`, [`${app}.raced`])).rows[0]
        ?.o;
      const owner = new pg.Client({ connectionString: SERVER_URL });
      await owner.connect();
      clients.push(owner);
      await owner.query(`SET ROLE ${quoteIdent(appOwner)}`);
      const waiting = async () => {
        for (let i = 0; i < 200; i++) {
          const w = await dba.query(`SELECT 1 FROM pg_locks WHERE relation = $1 AND NOT granted`, [oid]);
          if (w.rowCount) return;
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error('the census never waited for the table');
      };
      const runs = async (seq: string) =>
        Number(
          (await dba.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${a}.${seq}`))
            .rows[0]?.n,
        );
      const strangers = async () => ((await runs('race_other')) > 0 ? ['another role'] : []);
      const ran = async () => runs('race_owner');
      const forged = async () =>
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code LIKE 'RAC-FORGED-%'`)).rowCount;
      const show = async () => (await sqlAs('olga')).query(`SELECT ${q}.show('RAC-001') AS s`);
      assert.equal((await show()).rows[0]?.s.status, 'alive');
      // 1. the table swapped for a view of the same name
      await owner.query(`BEGIN; ALTER TABLE ${a}.raced RENAME TO raced_real;
        CREATE VIEW ${a}.raced AS SELECT id, ${a}.race_write(code) AS code FROM ${a}.raced_real`);
      const first = show();
      await waiting();
      await owner.query('COMMIT');
      assert.equal((await first).rows[0]?.s.status, 'alive', 'the view, read as its owner');
      assert.ok((await ran()) > 0, 'the view’s function ran');
      assert.deepEqual(await strangers(), [], 'as the owner, never as natal');
      assert.equal(await forged(), 0);
      await owner.query(`DROP VIEW ${a}.raced; ALTER TABLE ${a}.raced_real RENAME TO raced`);
      // 2. an index whose predicate calls the owner's function, committed while natal waits
      await owner.query(`BEGIN; LOCK TABLE ${a}.raced IN ACCESS EXCLUSIVE MODE;
        CREATE INDEX raced_spied ON ${a}.raced (id) WHERE ${a}.race_spy(1)`);
      const before = await ran();
      const second = show();
      await waiting();
      await owner.query('COMMIT');
      assert.equal((await second).rows[0]?.s.status, 'alive');
      assert.ok((await ran()) > before, 'the predicate’s function ran, planning the read');
      assert.deepEqual(await strangers(), [], 'as the owner, never as natal');
      assert.equal(await forged(), 0);
      await owner.query(`DROP INDEX ${a}.raced_spied`);
      assert.equal((await (await as('olga')).census([`${app}.raced`])).collections[0]?.rows, 2);
    });

    test('natal’s reader as a table’s owner: no natal role calls it, an owner’s change to it is undone, and what the owner’s code does in natal’s session is undone', async () => {
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.readme (id serial PRIMARY KEY, code text UNIQUE);
        INSERT INTO ${a}.readme (code) VALUES ('REA-001'), ('REA-002');
        CREATE FUNCTION ${a}.set_path(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN PERFORM pg_catalog.set_config('search_path', 'pg_temp, public', false); RETURN true; END $$;
        RESET ROLE`);
      const alice = await as('alice');
      await alice.addSpecies({ code: 'SPE-REA', prefix: 'REA', level: 'atom' });
      await alice.addCollection({
        table: `${app}.readme`,
        species: 'SPE-REA',
        owner: login('olga'),
        codeColumn: 'code',
      });
      const rows = async () => (await (await as('olga')).census([`${app}.readme`])).collections[0]?.rows;
      assert.equal(await rows(), 2);
      const reader = (
        await dba.query<{ f: string }>(
          `SELECT p.oid::regprocedure::text AS f FROM pg_proc p
           WHERE p.pronamespace = $1::regnamespace AND p.proname LIKE 'read\\_as\\_%' AND p.proowner = $2::regrole`,
          [schema, appOwner],
        )
      ).rows[0]?.f;
      assert.ok(reader, 'a reader of the owner’s');
      // 1. no natal role may run a query as the owner
      await assert.rejects(
        (await sqlAs('olga')).query(
          `SELECT * FROM ${reader?.replace(/\(.*/, '')}('SELECT 1', NULL) AS r(x int)`,
        ),
        /permission denied/,
      );
      // 2. made SECURITY INVOKER by its owner, it refuses to run as natal's definer; natal's next
      // read makes it again
      // (an owner who may look into natal's schema: one who is a natal reader too, say)
      await dba.query(`GRANT USAGE ON SCHEMA ${q} TO ${quoteIdent(appOwner)};
        SET ROLE ${quoteIdent(appOwner)}; ALTER FUNCTION ${reader} SECURITY INVOKER; RESET ROLE;
        REVOKE USAGE ON SCHEMA ${q} FROM ${quoteIdent(appOwner)}`);
      await rejects(
        dba.query(`SET ROLE ${quoteIdent(`${schema}_definer`)};
          SELECT * FROM ${reader?.replace(/\(.*/, '')}('SELECT 1', NULL) AS r(x int)`),
        'NB025',
        /reader as .* was altered/,
      );
      await dba.query('RESET ROLE');
      assert.equal(await rows(), 2);
      assert.equal(
        (await dba.query(`SELECT prosecdef AS d FROM pg_proc WHERE oid = $1::regprocedure`, [reader])).rows[0]
          ?.d,
        true,
        'made again',
      );
      // 3. what the owner's code does in natal's session while natal reads is undone: a plain
      // SET (search_path, natal.dot_origin), an object in the temporary schema (found there
      // first by a name the client writes without a schema: pg_roles), a write whose deferred
      // trigger would fire at commit as the session's role
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.queued (n int);
        CREATE TABLE ${a}.fired (who text);
        GRANT INSERT ON ${a}.queued, ${a}.fired TO PUBLIC;
        CREATE FUNCTION ${a}.fire() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO ${a}.fired VALUES (session_user); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER queued_fire AFTER INSERT ON ${a}.queued
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${a}.fire();
        CREATE FUNCTION ${a}.meddle_impl() RETURNS boolean LANGUAGE plpgsql AS $$
          BEGIN
            PERFORM pg_catalog.set_config('search_path', 'pg_temp, public', false);
            PERFORM pg_catalog.set_config('natal.dot_origin', 'forged', false);
            BEGIN
              CREATE TEMP TABLE IF NOT EXISTS pg_roles (rolname name);
            EXCEPTION WHEN others THEN NULL;  -- (as CREATE INDEX builds: a security-restricted operation)
            END;
            IF session_user::text = '${login('olga')}' THEN  -- (not as CREATE INDEX builds: PostgreSQL refuses it there)
              INSERT INTO ${a}.queued VALUES (1);
            END IF;
            RETURN true;
          END $$;
        CREATE FUNCTION ${a}.meddle(n int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN RETURN ${a}.meddle_impl(); END $$;
        CREATE INDEX readme_meddler ON ${a}.readme (id) WHERE ${a}.meddle(1);
        RESET ROLE; RESET search_path; DISCARD TEMP; RESET natal.dot_origin`);
      await dba.query(`TRUNCATE ${a}.queued, ${a}.fired`);
      const olga = await sqlAs('olga');
      try {
        const path = (await olga.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]
          ?.p;
        const orphans = await olga.query(`SELECT * FROM ${q}.census_orphans($1, 10)`, [`${app}.readme`]);
        assert.equal(orphans.rowCount, 2, 'read, as its owner: its two unborn rows');
        const after = await olga.query<{ p: string; o: string | null; t: string | null }>(
          `SELECT current_setting('search_path') AS p, current_setting('natal.dot_origin', true) AS o,
                  to_regclass('pg_temp.pg_roles')::text AS t`,
        );
        assert.equal(after.rows[0]?.p, path, 'search_path as it was');
        assert.notEqual(after.rows[0]?.o, 'forged', 'natal.dot_origin as it was');
        assert.equal(after.rows[0]?.t, null, 'nothing in the temporary schema');
        assert.equal(
          Number((await dba.query(`SELECT count(*) AS n FROM ${a}.queued`)).rows[0]?.n),
          0,
          'the write undone',
        );
        assert.deepEqual(
          (await dba.query(`SELECT who FROM ${a}.fired`)).rows,
          [],
          'no deferred trigger fired at the reader’s commit',
        );
      } finally {
        await dba.query(`DROP INDEX ${a}.readme_meddler`);
      }
      assert.equal(await rows(), 2);
    });

    test('a setting the owner’s code SETs inside the gateway’s call does not reach natal’s code after it', async () => {
      // As the table's owner (no natal role): an operator -> of its own schema that forges a
      // birth when it runs with the rights to, and a trigger (then a partial index's
      // predicate, which the gateway's probe plans) that points the session's search_path
      // there with a plain SET, which outlives the function it runs in.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.setter (id serial PRIMARY KEY, code text UNIQUE, name text);
        GRANT INSERT ON ${a}.setter TO ${quoteIdent(login('app'))};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${a} TO ${quoteIdent(login('app'))};
        CREATE TABLE ${a}.set_by (who text);
        GRANT INSERT ON ${a}.set_by TO PUBLIC;
        CREATE FUNCTION ${a}.forge_arrow(j jsonb, k text) RETURNS jsonb LANGUAGE plpgsql AS $$
          BEGIN
            INSERT INTO ${a}.set_by VALUES (current_user);
            ${forgeAttempt(`'SET-FORGED-' || pg_catalog.random()`, `${app}.setter`, 'SPE-SET', 'gateway')}
            RETURN pg_catalog.jsonb_object_field(j, k);
          END $$;
        CREATE OPERATOR ${a}.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = ${a}.forge_arrow);
        CREATE FUNCTION ${a}.point() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN PERFORM pg_catalog.set_config('search_path', '${app}, pg_catalog', false); RETURN NEW; END $$;
        CREATE FUNCTION ${a}.point_rls() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
          $$ BEGIN PERFORM pg_catalog.set_config('row_security', 'on', false); RETURN true; END $$;
        RESET ROLE`);
      await govern('SET', ['setter']);
      const c = await sqlAs('app');
      const create = () =>
        c.query(`SELECT ${q}.create_entity($1, '{"name": "n"}', 'app') AS b`, [`${app}.setter`]);
      assert.match((await create()).rows[0]?.b.entity_code, /^SET-\d+$/);
      const strangers = async () =>
        (
          await dba.query<{ who: string }>(`SELECT DISTINCT who FROM ${a}.set_by WHERE who <> $1`, [
            login('app'),
          ])
        ).rows;
      const forged = async () =>
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code LIKE 'SET-FORGED-%'`)).rowCount;
      // 1. a trigger's plain SET of search_path, during the gateway's insert of the row
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TRIGGER point BEFORE INSERT ON ${a}.setter FOR EACH ROW EXECUTE FUNCTION ${a}.point();
        RESET ROLE`);
      await rejects(create(), 'NB025', /changed the session's settings/);
      assert.equal(
        (await c.query(`SHOW search_path`)).rows[0]?.search_path,
        '"$user", public',
        'rolled back',
      );
      // 2. an index's predicate's plain SET of row_security, when the gateway's probe plans its read
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        DROP TRIGGER point ON ${a}.setter;
        CREATE INDEX setter_pointed ON ${a}.setter (id) WHERE ${a}.point_rls();
        RESET ROLE`);
      const fresh = await sqlAs('app');
      await rejects(
        fresh.query(`SELECT ${q}.create_entity($1, '{"name": "n"}', 'app')`, [`${app}.setter`]),
        'NB025',
        /changed the session's settings/,
      );
      assert.deepEqual(await strangers(), [], 'the owner’s operator never ran as natal’s definer');
      assert.equal(await forged(), 0);
      await dba.query(`DROP INDEX ${a}.setter_pointed`);
      assert.match((await create()).rows[0]?.b.entity_code, /^SET-\d+$/);
    });

    test('a key of a domain with a CHECK of its owner’s: natal never casts into the domain, so the check never runs as natal', async () => {
      // As the table's owner (no natal role): a domain whose CHECK writes who runs it and
      // forges a birth when it can; a cast into the domain runs it, a cast from it does not.
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        CREATE TABLE ${a}.checked_by (who text);
        CREATE FUNCTION ${a}.check_spy(v int) RETURNS boolean LANGUAGE plpgsql AS $$
          BEGIN
            INSERT INTO ${a}.checked_by VALUES (current_user);
            ${forgeAttempt(`'DMN-FORGED-' || pg_catalog.random()`, `${app}.domained`, 'SPE-DMN')}
            RETURN true;
          END $$;
        CREATE DOMAIN ${a}.spied_id AS int CHECK (${a}.check_spy(VALUE));
        CREATE TABLE ${a}.domained (id ${a}.spied_id PRIMARY KEY, name text);
        GRANT USAGE ON SCHEMA ${a} TO ${quoteIdent(login('olga'))};
        GRANT SELECT ON ${a}.domained TO ${quoteIdent(login('olga'))};
        RESET ROLE`);
      const alice = await as('alice');
      await alice.addSpecies({ code: 'SPE-DMN', prefix: 'DMN', level: 'atom' });
      await alice.addCollection({ table: `${app}.domained`, species: 'SPE-DMN', owner: login('olga') });
      await alice.setIdentity(`${app}.domained`, { strategy: 'synthetic_id' });
      await alice.wire([`${app}.domained`]);
      await dba.query(`SET ROLE ${quoteIdent(appOwner)};
        INSERT INTO ${a}.domained SELECT g, 'd' FROM generate_series(1, 3) AS g;
        RESET ROLE`);
      const strangers = async () =>
        (
          await dba.query<{ who: string }>(`SELECT DISTINCT who FROM ${a}.checked_by WHERE who <> $1`, [
            appOwner,
          ])
        ).rows;
      const olga = await as('olga');
      assert.equal((await olga.show(`${app}.domained::2`)).status, 'alive');
      assert.equal((await olga.showRow(`${app}.domained`, 3)).status, 'alive');
      // the apply's ranges compare keys cast to the domain's base type too
      const [batch] = await dba
        .query<{ sql: string }>(
          `SELECT (${q}.backfill_batch_sql(${q}.find_collection($1), false)).ins AS sql`,
          [`${app}.domained`],
        )
        .then((r) => r.rows);
      assert.doesNotMatch(batch?.sql ?? '', /spied_id/);
      assert.match(batch?.sql ?? '', /::integer/);
      assert.deepEqual(await strangers(), [], 'the domain’s check never ran as natal’s definer');
      assert.equal(
        (await dba.query(`SELECT 1 FROM ${q}.birth_registry WHERE entity_code LIKE 'DMN-FORGED-%'`)).rowCount,
        0,
      );
    });

    test('the hash chain shows what a superuser rewrote', async () => {
      const v0 = await registry.verifyLedger();
      assert.equal(v0.ok, true);
      assert.ok(v0.rows > 0);
      await dba.query(`BEGIN; SET LOCAL session_replication_role = replica;
        UPDATE ${q}.birth_backfill_ledger SET actor = 'someone else' WHERE ledger_id = (SELECT min(ledger_id) FROM ${q}.birth_backfill_ledger);
        COMMIT`);
      const v1 = await (await as('olga')).verifyLedger();
      assert.equal(v1.ok, false);
      assert.equal(v1.first_broken?.table, 'birth_backfill_ledger');
      assert.match(v1.first_broken?.why ?? '', /content does not match its hash/);
    });
  },
);
