/**
 * A collection left as it is on purpose: `natal freeze TABLE --reason …` records who and
 * why, and every command that says what to do next says that instead of asking to wire or
 * plan it (census state FROZEN, status, census --check, preflight, plan, report); wire and
 * unwire refuse a frozen collection. Run as a user runs it (a subprocess each time), on a
 * server as logins holding only the natal role of their job.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles, eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

interface CensusJson {
  state: string;
  collections: {
    collection: string;
    state: string;
    gap: number | null;
    frozen: { frozen_by: string; reason: string; frozen_at: string } | null;
  }[];
  check: {
    ok: boolean;
    governed: number;
    failing: { collection: string; state: string; next: string }[];
    frozen: { collection: string; frozen_by: string; reason: string; orphans: number; phantoms: number }[];
  };
}

eachBackend('a collection frozen on purpose', (backend) => {
  test('status, census --check, preflight, plan and the report say why it is held; wire and unwire refuse it', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('app');
    const a = quoteIdent(app);
    const server = backend.name === 'server';
    const people = server
      ? { ad: `${schema}_ad`, op: `${schema}_op`, rd: `${schema}_rd` }
      : { ad: 'ada', op: 'oscar', rd: 'rhea' };
    const as =
      (who: string) =>
      (...args: string[]) =>
        natal([...args, ...target, '--schema', schema, '--as', who]);
    const [admin, operator, reader] = [as(people.ad), as(people.op), as(people.rd)];
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const ok = async (run: (...args: string[]) => ReturnType<typeof natal>, ...args: string[]) => {
      const r = await run(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r;
    };
    const held = `${app}.held`;
    const done = `${app}.done`;
    const reason = 'stays on the old birth triggers until the migration';
    const su = server ? new pg.Client({ connectionString: SERVER_URL }) : undefined;
    try {
      await su?.connect();
      const r = await Registry.open({ ...opts, create: true });
      try {
        await r.init();
        if (su) {
          for (const role of Object.values(people)) await su.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
          await r.grantAccess(people.ad, ['admin']);
          await r.grantAccess(people.op, ['operator']);
          await r.grantAccess(people.rd, ['reader']);
        }
        await r.db.exec(`CREATE SCHEMA ${a};
          CREATE TABLE ${a}.done (id int PRIMARY KEY, v text);
          CREATE TABLE ${a}.held (id int PRIMARY KEY, v text);
          INSERT INTO ${a}.held SELECT g, 'h' FROM generate_series(1, 3) g;
          GRANT USAGE ON SCHEMA ${a} TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;`);
        await r.addSpecies({ code: 'SPE-F', prefix: 'F', level: 'atom' });
        await r.addCollection({ table: done, species: 'SPE-F' });
        await r.addCollection({ table: held, species: 'SPE-F' });
        await r.wire([done]);
        await r.db.exec(`INSERT INTO ${a}.done SELECT g, 'd' FROM generate_series(1, 2) g`);
      } finally {
        await r.close();
      }

      // Not wired and not frozen: the check fails and asks to wire it.
      let check = await reader('census', '--check');
      assert.equal(check.code, 1, check.stderr);
      assert.equal(check.stdout, `${held} NOT_WIRED: not wired, 3 orphans; next: natal wire ${held}\n`);

      // Frozen with its reason: held on purpose.
      const frozen = await ok(admin, 'freeze', held, '--reason', reason);
      assert.equal(frozen.stdout, `${held} frozen by ${people.ad}: ${reason}\n`);
      check = await reader('census', '--check');
      assert.deepEqual(
        [check.code, check.stdout, check.stderr],
        [
          0,
          `ok: 1 governed collection complete\n1 collection frozen on purpose, not checked: ${held} (natal freezes says why)\n`,
          '',
        ],
      );
      const body = JSON.parse((await ok(reader, 'census', '--check', '--json')).stdout) as CensusJson;
      assert.equal(body.state, 'COMPLETE_EXCEPT_1_FROZEN');
      assert.deepEqual(body.check.failing, []);
      assert.deepEqual(body.check.frozen, [
        { collection: held, frozen_by: people.ad, reason, orphans: 3, phantoms: 0 },
      ]);
      const row = body.collections.find((c) => c.collection === held);
      assert.equal(row?.state, 'FROZEN');
      assert.equal(row?.gap, 3, 'a frozen collection is still counted');
      assert.deepEqual([row?.frozen?.frozen_by, row?.frozen?.reason], [people.ad, reason]);
      assert.equal(body.collections.find((c) => c.collection === done)?.frozen, null);

      const status = (await ok(reader, 'status')).stdout;
      assert.match(status, /State +COMPLETE_EXCEPT_1_FROZEN/);
      assert.match(status, /Every governed collection not frozen is complete\./);
      assert.ok(status.replace(/\s+/g, ' ').includes(`FROZEN by ${people.ad}: ${reason}: ${held}`), status);
      assert.doesNotMatch(status, /natal wire|What blocks/, status);

      const freezes = JSON.parse((await ok(reader, 'freezes', '--json')).stdout) as {
        target: string;
        frozen_by: string;
        reason: string;
      }[];
      assert.deepEqual(
        freezes.map((f) => [f.target, f.frozen_by, f.reason]),
        [[held, people.ad, reason]],
      );

      // Preflight names the freeze first; an unnamed plan leaves it out, a named one is refused.
      const pre = JSON.parse((await reader('preflight', held, '--json')).stdout) as {
        failed: { check: string; fix: string }[];
      }[];
      assert.equal(pre[0]?.failed[0]?.check, 'not frozen');
      assert.match(
        pre[0]?.failed[0]?.fix ?? '',
        new RegExp(`held on purpose by ${people.ad} \\(${reason}\\)`),
      );
      const named = await operator('plan', held);
      assert.equal(named.code, 1, named.stdout);
      assert.match(
        named.stderr,
        new RegExp(`collection ${held} is frozen by ${people.ad} since .*: ${reason}`),
      );

      // Wire and unwire refuse a frozen collection, dry run or not; nothing changes.
      for (const args of [
        ['wire', held],
        ['wire', held, '--dry-run'],
      ]) {
        const w = await admin(...args);
        assert.equal(w.code, 1, `${args.join(' ')}: ${w.stdout}`);
        assert.match(
          w.stderr,
          new RegExp(
            `^natal: collection ${held} is frozen by ${people.ad} since [^:]+:\\d\\d UTC: ${reason}`,
          ),
        );
      }
      await ok(admin, 'freeze', done, '--reason', 'audit');
      const u = await admin('unwire', done);
      assert.equal(u.code, 1, u.stdout);
      assert.match(u.stderr, /is frozen by .*: audit/);
      // A frozen collection that is complete is COMPLETE, and still wired.
      const c2 = JSON.parse((await ok(reader, 'census', '--json')).stdout) as CensusJson;
      assert.deepEqual(
        c2.collections.map((c) => [c.collection, c.state]),
        [
          [done, 'COMPLETE'],
          [held, 'FROZEN'],
        ],
      );
      await ok(admin, 'unfreeze', done);

      // Unfrozen: not wired again, and the check fails with the step to take.
      await ok(admin, 'unfreeze', held);
      check = await reader('census', '--check');
      assert.equal(check.code, 1);
      assert.equal(check.stdout, `${held} NOT_WIRED: not wired, 3 orphans; next: natal wire ${held}\n`);
      // Frozen again, beside a collection with a gap: the plan of every governed collection
      // leaves it out, and its report says why it was not planned (not to wire it).
      await ok(admin, 'freeze', held, '--reason', reason);
      const l = await Registry.open(opts);
      try {
        await l.db.exec(`CREATE TABLE ${a}.gapped (id int PRIMARY KEY);
          INSERT INTO ${a}.gapped VALUES (1), (2); GRANT SELECT ON ${a}.gapped TO PUBLIC;`);
        await l.addCollection({ table: `${app}.gapped`, species: 'SPE-F' });
        await l.wire([`${app}.gapped`]);
      } finally {
        await l.close();
      }
      const plan = JSON.parse((await ok(operator, 'plan', '--json')).stdout) as {
        plan_id: number;
        collections: { collection: string; expected: number }[];
        not_eligible: { collection: string; failed: { check: string }[] }[];
      };
      assert.deepEqual(
        plan.collections.map((c) => [c.collection, c.expected]),
        [
          [done, 0],
          [`${app}.gapped`, 2],
        ],
      );
      assert.deepEqual(
        plan.not_eligible.map((n) => [n.collection, n.failed.map((f) => f.check)]),
        [[held, ['not frozen', 'trigger wired and functional']]],
      );
      const report = (await ok(reader, 'report', '--plan', String(plan.plan_id))).stdout;
      assert.ok(
        report.includes(`${held} not planned: frozen: held on purpose by ${people.ad} (${reason})`),
        report,
      );
      assert.doesNotMatch(report, /natal wire/);
    } finally {
      if (su) {
        await su.query(
          `DROP SCHEMA IF EXISTS ${a} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`,
        );
        for (const role of Object.values(people)) {
          await su.query(`DROP OWNED BY ${quoteIdent(role)}; DROP ROLE ${quoteIdent(role)}`);
        }
        await dropNatalRoles(su, schema);
        await su.end();
      }
    }
  });
});
