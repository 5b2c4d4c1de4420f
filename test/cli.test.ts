import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { NATAL_VERSION } from '../src/paths.js';
import { eachBackend, freshDataDir } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

/** Exactly one line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\bat .*\(.*:\d+:\d+\)/);
  return lines[0] as string;
}

describe('cli usage', () => {
  test('--help lists the commands; --version prints the version', async () => {
    const help = await natal(['--help']);
    assert.equal(help.code, 0);
    const commands = [
      'init',
      'doctor',
      'species',
      'collection',
      'wire',
      'unwire',
      'triggers',
      'create',
      'inspect',
      'demo',
    ];
    for (const cmd of commands) assert.match(help.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'));
    const version = await natal(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), NATAL_VERSION);
  });

  test('help speaks natal’s words: the seed platform’s names only in the demo’s story', async () => {
    const help = await natal(['--help']);
    const names = [...help.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1] as string);
    assert.ok(names.includes('inspect') && names.includes('create'), help.stdout);
    for (const name of names.filter((n) => n !== 'help')) {
      const r = await natal([name, '--help']);
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      const seed = /QT-00\d|Case 3|inspect pen|Stage 1|DOT tools/.exec(
        r.stdout.replace(/\(QT-001 in its story\)/, ''),
      );
      assert.equal(seed, null, `natal ${name} --help uses the seed platform's word ${seed?.[0]}`);
    }
  });

  test('an unknown flag exits 2 with one line that says what to do', async () => {
    const r = await natal(['init', '--frobnicate']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /unknown option '--frobnicate'.*natal --help/);
    assert.equal(r.stdout, '');
  });

  test('with --json a usage error is JSON on stdout too', async () => {
    const r = await natal(['frobnicate', '--json']);
    assert.equal(r.code, 2);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE');
  });

  test('an unknown command exits 2', async () => {
    const r = await natal(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /unknown command 'frobnicate'/);
  });

  test('a near miss is told the command or flag it may have meant', async () => {
    const cmd = await natal(['staus']);
    assert.equal(cmd.code, 2);
    assert.equal(cmd.stderr, "natal: unknown command 'staus' (Did you mean status?); see natal --help\n");
    const flag = await natal(['census', '--recont']);
    assert.equal(flag.code, 2);
    assert.equal(
      flag.stderr,
      "natal: unknown option '--recont' (Did you mean --recount?); see natal --help\n",
    );
  });

  test('a flag missing its value exits 2', async () => {
    const r = await natal(['init', '--schema']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /--schema <name>.*argument missing/);
  });

  test('--db and --data-dir together is a usage error', async () => {
    const r = await natal(['init', '--db', 'postgres://x@127.0.0.1/x', '--data-dir', '/tmp/x']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /either --db or --data-dir/);
  });

  test('a bad URL is one line and exit 1', async () => {
    for (const url of ['not a url', 'mysql://root@127.0.0.1/test']) {
      const r = await natal(['init', '--db', url]);
      assert.equal(r.code, 1, url);
      assert.match(oneLine(r.stderr), /PostgreSQL URL|not a database URL/);
    }
  });

  test('a refused connection is one line and exit 1, with the password masked', async () => {
    const r = await natal(['init', '--db', 'postgres://me:s3cret@127.0.0.1:1/test']);
    assert.equal(r.code, 1);
    const line = oneLine(r.stderr);
    assert.match(line, /cannot connect to postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/test: connection refused/);
    assert.doesNotMatch(line, /s3cret/);
  });

  test('NATAL_DATABASE_URL is used when --db is not given', async () => {
    const r = await natal(['init'], {
      env: { NATAL_DATABASE_URL: 'postgres://me@127.0.0.1:1/test' },
    });
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /127\.0\.0\.1:1\/test: connection refused/);
  });

  test('with --json an error is JSON on stdout and one line on stderr', async () => {
    const r = await natal(['init', '--json', '--db', 'postgres://me@127.0.0.1:1/test']);
    assert.equal(r.code, 1);
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'CONNECT_FAILED');
    oneLine(r.stderr);
  });
});

describe('cli on the embedded default', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('init then doctor in an empty directory use ./.natal', async () => {
    const cwd = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? '/tmp', 'cwd-'));
    dirs.push(cwd);
    const init = await natal(['init'], { cwd });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /applied 0001_registry, .* to schema natal at .*\.natal/);
    const doctor = await natal(['doctor'], { cwd });
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.match(doctor.stdout, /clean/);
  });
});

eachBackend('cli init and doctor', (backend) => {
  test('a read-only command where there is no database makes none, and says to run natal init', async () => {
    const cwd = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? tmpdir(), 'empty-'));
    try {
      for (const args of [['status'], ['census', '--json'], ['doctor'], ['ledger']]) {
        const r = await natal(args, { cwd });
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, /^natal: there is no natal database in .*\.natal; run natal init there/);
      }
      assert.deepEqual(readdirSync(cwd), [], 'nothing was made');
      const named = join(cwd, 'named');
      assert.equal((await natal(['status', '--data-dir', named])).code, 1);
      assert.deepEqual(readdirSync(cwd), []);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test('a fresh registry says nothing is registered yet and what to do first, not that all is complete', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    assert.equal((await natal(['init', ...target, '--schema', schema])).code, 0);
    const status = await natal(['status', ...target, '--schema', schema]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /State\s+NOTHING_GOVERNED/);
    assert.match(status.stdout, /Nothing is registered yet: add a species \(natal species add/);
    assert.doesNotMatch(status.stdout, /complete/i);
    const json = await natal(['census', ...target, '--schema', schema, '--json']);
    assert.equal((JSON.parse(json.stdout) as { state: string }).state, 'NOTHING_GOVERNED');
  });

  test('init twice, doctor clean, all with --json and nothing else on stdout', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('Cli Schema');
    const args = [...target, '--schema', schema, '--json'];
    const first = await natal(['init', ...args]);
    assert.equal(first.code, 0, first.stderr);
    const made = JSON.parse(first.stdout) as { upToDate: boolean; up_to_date: boolean };
    assert.deepEqual([made.up_to_date, made.upToDate], [false, false]);
    const second = await natal(['init', ...args]);
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout) as { applied: string[]; up_to_date: boolean };
    assert.deepEqual([again.applied, again.up_to_date], [[], true]);
    const text = await natal(['init', ...target, '--schema', schema]);
    assert.match(text.stdout, /up to date.*nothing changed/);
    const doctor = await natal(['doctor', ...args]);
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.deepEqual(JSON.parse(doctor.stdout), { schema, clean: true, findings: [] });
  });

  test('doctor on a schema without natal exits 1 and says to run init', async () => {
    const r = await natal(['doctor', ...backend.cliTarget(), '--schema', backend.uniqueName('empty')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /run natal init/);
  });
});

test(
  'freshDataDir copies an initialised template',
  { skip: process.env.NATAL_TEST_PGLITE_TEMPLATE ? false : 'no template: run through dist/test/run.js' },
  () => {
    const d = freshDataDir();
    try {
      // the run's template: one PGlite data directory, initdb done (PG_VERSION is written last)
      assert.deepEqual(readdirSync(d), ['pgdata']);
      assert.match(readFileSync(join(d, 'pgdata', 'PG_VERSION'), 'utf8'), /^\d+\n$/);
      assert.ok(statSync(join(d, 'pgdata', 'global', 'pg_control')).isFile(), 'pg_control copied');
      // a copy, not the template itself, and a new one each call
      assert.notEqual(d, process.env.NATAL_TEST_PGLITE_TEMPLATE);
      const e = freshDataDir();
      assert.notEqual(e, d);
      rmSync(e, { recursive: true, force: true });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);
