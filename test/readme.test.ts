/**
 * The README, executed: its walkthrough's SQL and every `npx natal …` line of it run in
 * order against a real database (a fresh data directory; on the server a fresh database
 * and real roles for alice, bob and olga), its gateway snippets too, and its command
 * reference compared with the CLI's commands and flags, both ways.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import pg from 'pg';
import { buildProgram } from '../src/cli/program.js';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles, eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

const README = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../README.md'), 'utf8');
const GLOBAL_FLAGS = new Set([
  '--quiet',
  '--verbose',
  '--wait',
  '--db',
  '--data-dir',
  '--schema',
  '--json',
  '--as',
  '--help',
]);

/** The fenced block that follows `<!-- marker -->`. */
function block(marker: string): string {
  const at = README.indexOf(`<!-- ${marker} -->`);
  assert.ok(at >= 0, `README has <!-- ${marker} -->`);
  const m = /```\w*\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(m, `a code block after ${marker}`);
  return m[1] as string;
}

/** Splits a shell line into words (single and double quotes; no expansion). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let any = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      any = true;
    } else if (ch === ' ') {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (cur || any) out.push(cur);
  return out;
}

/** A README command line: who runs it (from a NATAL_DATABASE_URL prefix) and natal's words. */
interface Line {
  text: string;
  user: string;
  args: string[];
}

function commandLines(): { exportUsers: string[]; lines: Line[] } {
  let exportUser = '';
  const exportUsers: string[] = [];
  const lines: Line[] = [];
  for (const raw of block('readme-commands').split('\n')) {
    const text = raw.replace(/\s+#.*$/, '').trim();
    if (!text) continue;
    const exp = /^export NATAL_DATABASE_URL=postgres:\/\/(\w+)@localhost\/app$/.exec(text);
    if (exp) {
      exportUser = exp[1] as string;
      exportUsers.push(exportUser);
      continue;
    }
    const m = /^(?:NATAL_DATABASE_URL=postgres:\/\/(\w+)@localhost\/app )?npx natal (.*)$/.exec(text);
    assert.ok(m, `README line is a natal command: ${text}`);
    lines.push({ text, user: m[1] ?? exportUser, args: words(m[2] as string) });
  }
  return { exportUsers, lines };
}

/** The people of the walkthrough (the DBA, postgres, is the test's own superuser). */
const PEOPLE = ['alice', 'oscar', 'bob', 'olga', 'app'];

eachBackend('README walkthrough', (backend) => {
  test('every command of the walkthrough runs, in order, with the results it shows', async () => {
    const { exportUsers, lines } = commandLines();
    assert.deepEqual(exportUsers, ['postgres', 'alice', 'oscar', 'olga']);
    const cwd = mkdtempSync(join(tmpdir(), 'natal-readme-'));
    const suffix = randomBytes(4).toString('hex');
    const role = (p: string) => `${p}_${suffix}`;
    const people = PEOPLE;
    const database = `natal_readme_${suffix}`;
    let admin: pg.Client | undefined;
    let hadNatalRoles = true;
    let target: (user: string) => { args: string[]; env: NodeJS.ProcessEnv };
    let rename = (w: string) => w;
    const dataDir = backend.name === 'embedded' ? backend.freshDataDir() : '';
    try {
      if (backend.name === 'server') {
        admin = new pg.Client({ connectionString: SERVER_URL });
        await admin.connect();
        hadNatalRoles =
          (await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'natal_definer'`)).rows.length > 0;
        for (const p of people) await admin.query(`CREATE ROLE ${quoteIdent(role(p))} LOGIN`);
        await admin.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(role('app'))}`);
        const url = (user: string) => {
          const u = new URL(SERVER_URL as string);
          if (user !== 'postgres') u.username = role(user);
          u.pathname = `/${database}`;
          return u.toString();
        };
        const app = new pg.Client({ connectionString: url('app') });
        await app.connect();
        await app.query(block('readme-sql'));
        await app.end();
        target = (user) => ({ args: [], env: { NATAL_DATABASE_URL: url(user) } });
        rename = (w) => (people.includes(w) ? role(w) : w);
      } else {
        const r = await Registry.open({ dataDir });
        await r.db.exec(block('readme-sql'));
        await r.close();
        target = (user) => ({ args: ['--data-dir', dataDir, '--as', user], env: {} });
      }
      const outputs: string[] = [];
      for (const line of lines) {
        // Embedded there is one user and no roles: who acts is --as, and access has nothing to grant.
        if (backend.name === 'embedded' && line.args[0] === 'access') {
          outputs.push('');
          continue;
        }
        const t = target(line.user);
        const r = await natal([...line.args.map(rename), ...t.args], { cwd, env: t.env });
        assert.equal(r.code, 0, `${line.text}\n${r.stderr}`);
        outputs.push(r.stdout);
        if (line.args[0] === 'init' && backend.name === 'server') {
          // What the README says the DBA runs once: natal acts on app's tables.
          const c = new pg.Client({ connectionString: t.env.NATAL_DATABASE_URL });
          await c.connect();
          const grant = /`(GRANT app TO natal_definer;)`/.exec(README.replace(/\n/g, ' '))?.[1] as string;
          await c.query(grant.replace(/\bapp\b/, quoteIdent(role('app'))));
          await c.end();
        }
      }
      const out = (cmd: string) => outputs[lines.findIndex((l) => l.args.join(' ').startsWith(cmd))] ?? '';
      assert.match(out('classify'), /dot_domain_rules: column code \[recorded\]/);
      assert.match(out('status'), /Gap \(orphans\)\s+109/);
      assert.match(out('plan'), /plan 1: 109 births expected/);
      assert.match(out('rehearse'), /109 births, rerun delta 0, rolled back, net births 0/);
      assert.match(out('approve 1 --review'), new RegExp(`recorded by ${rename('bob')}`));
      assert.match(out('apply'), /run 2: 109 births .* confirmed: gap 0/);
      assert.match(out('census'), /State\s+COMPLETE/);
      assert.equal(out('census --check'), 'ok: 2 governed collections complete\n');
      assert.match(
        out('plans'),
        new RegExp(`\\n1 +VERIFIED +${rename('oscar')} +${rename('bob')} +${rename('olga')} +109 +109 `),
      );
      assert.match(readFileSync(join(cwd, 'qt-001.md'), 'utf8'), /plan 1/);
      assert.equal(out('create').trim(), 'DOM-068');
      assert.match(out('ledger'), /APPLY/);
      assert.match(out('ledger --verify'), /the hash chain holds/);
      assert.match(out('rollback'), /would remove 109 births/);

      // The gateway snippets: SQL, then TypeScript.
      const sql = block('readme-gateway').split('\n')[0] as string;
      const registry =
        backend.name === 'server'
          ? await Registry.open({ env: target('app').env }) // as the snippet: NATAL_DATABASE_URL
          : await Registry.open({ dataDir });
      try {
        const { rows } = await registry.db.query<{ b: { entity_code: string } }>(sql.replace(/;$/, ' AS b'));
        assert.equal(rows[0]?.b.entity_code, 'DOM-069');
        const birth = await registry.create('dot_domain_rules', { name: 'new rule' }, 'my-tool');
        assert.equal(birth.entity_code, 'DOM-070');
      } finally {
        await registry.close();
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
      if (admin) {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`).catch(async () => {
          await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
        });
        // (natal's roles for schema natal, unless this server had them before the test)
        if (!hadNatalRoles) await dropNatalRoles(admin, 'natal');
        for (const p of people) await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role(p))}`);
        await admin.end();
      }
    }
  });

  test('the walkthrough is refused before the rehearsal, the review and the permit', async () => {
    // The README's claim, on a fresh database: plan, then apply without a rehearsal, then
    // rehearse and apply without approvals.
    const suffix = randomBytes(4).toString('hex');
    const database = `natal_refused_${suffix}`;
    let admin: pg.Client | undefined;
    let target: string[];
    let hadNatalRoles = true;
    const owner = `olga_${suffix}`;
    try {
      if (backend.name === 'server') {
        admin = new pg.Client({ connectionString: SERVER_URL });
        await admin.connect();
        hadNatalRoles =
          (await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'natal_definer'`)).rows.length > 0;
        await admin.query(`CREATE ROLE ${quoteIdent(owner)} NOLOGIN`);
        await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
        const u = new URL(SERVER_URL as string);
        u.pathname = `/${database}`;
        target = ['--db', u.toString()];
      } else {
        target = ['--data-dir', backend.freshDataDir()];
      }
      const r =
        backend.name === 'server'
          ? await Registry.open({ db: target[1] })
          : await Registry.open({ dataDir: target[1] });
      await r.db.exec(block('readme-sql'));
      await r.close();
      const run = (...a: string[]) => natal([...a, ...target]);
      // the README's lines up to its plan, all by one superuser session (who is every role;
      // natal access has nobody to grant to here), the owner a role of this test
      const lines = commandLines().lines.filter((l) => l.args[0] !== 'access');
      const planned = lines.findIndex((l) => l.args[0] === 'plan');
      for (const l of lines.slice(0, planned + 1)) {
        const args = l.args.map((w) => (w === 'olga' && backend.name === 'server' ? owner : w));
        const res = await run(...args);
        assert.equal(res.code, 0, `${l.text}\n${res.stderr}`);
      }
      // the steps in their order: first the rehearsal, then the review and the permit
      const early = await run('apply', '1');
      assert.equal(early.code, 1);
      assert.equal(
        early.stderr,
        'natal: plan 1 has not been rehearsed, so it cannot be applied; rehearse it first: natal rehearse 1\n',
      );
      assert.equal((await run('rehearse', '1')).code, 0);
      const refused = await run('apply', '1');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /plan 1 has no review/);
    } finally {
      if (admin) {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
        if (!hadNatalRoles) await dropNatalRoles(admin, 'natal');
        await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(owner)}`);
        await admin.end();
      }
    }
  });
});

/** Command paths and flags of the CLI: 'collection add' → its own long flags. */
function cliCommands(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length) walk(sub, p);
      else {
        const flags = new Set(
          sub.options.map((o) => o.long).filter((f): f is string => !!f && !GLOBAL_FLAGS.has(f)),
        );
        out.set(p.join(' '), flags);
      }
    }
  };
  walk(buildProgram(), []);
  return out;
}

/** The same, from the README's reference table (flags of rows sharing a command merged). */
function readmeCommands(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const after = README.slice(README.indexOf('<!-- readme-reference -->')).split('\n').slice(1);
  const table = after.slice(
    0,
    after.findIndex((l) => !l.startsWith('|')),
  );
  for (const row of table.slice(2)) {
    const cell = row.split(/(?<!\\)\|/)[1] ?? '';
    for (const span of cell.match(/`natal [^`]*`/g) ?? []) {
      const ws = span.slice(1, -1).replace(/\\\|/g, '|').split(/\s+/).slice(1);
      const path: string[] = [];
      for (const w of ws) {
        if (/^[a-z][a-z-]*$/.test(w)) path.push(w);
        else break;
      }
      const key = path.join(' ');
      const flags = out.get(key) ?? new Set<string>();
      for (const f of span.match(/--[a-z][a-z-]*/g) ?? []) if (!GLOBAL_FLAGS.has(f)) flags.add(f);
      out.set(key, flags);
    }
  }
  return out;
}

describe('README command reference', () => {
  test('lists exactly the CLI’s commands, each with exactly its flags', () => {
    const cli = cliCommands();
    const readme = readmeCommands();
    assert.deepEqual([...readme.keys()].sort(), [...cli.keys()].sort());
    for (const [cmd, flags] of cli) {
      assert.deepEqual([...(readme.get(cmd) ?? [])].sort(), [...flags].sort(), `flags of natal ${cmd}`);
    }
  });
});
