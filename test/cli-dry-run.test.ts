/**
 * `--dry-run` on the commands that change the catalog (wire, unwire, collection set,
 * identity set, freeze, unfreeze): the command's own code runs and says what it would
 * change, in a transaction that is rolled back, so nothing changes. On a server, as a login
 * with only natal's admin role, who does this work.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import type { Registry } from '../src/registry.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

eachBackend('cli --dry-run', (backend) => {
  let schema: string;
  let target: string[];
  let app: string;
  let admin: string | undefined;
  const who = () => (admin ? ['--as', admin] : []);
  const run = (...args: string[]) => natal([...args, ...target, '--schema', schema, ...who()]);
  const ok = async (...args: string[]) => {
    const res = await run(...args);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  /** The registry, open only while `fn` runs (an embedded data directory has one user at a time). */
  const on = async <T>(fn: (r: Registry) => Promise<T>): Promise<T> => {
    const r = await backend.open(target[0] === '--data-dir' ? { schema, dataDir: target[1] } : { schema });
    try {
      return await fn(r);
    } finally {
      await r.close();
    }
  };
  const triggers = async () =>
    on(async (r) =>
      (
        await r.db.query<{ t: string }>(
          `SELECT tgname AS t FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname LIKE 'natal%' ORDER BY 1`,
          [`${quoteIdent(app)}.orders`],
        )
      ).rows.map((x) => x.t),
    );
  const collection = async () =>
    on(
      async (r) =>
        (
          await r.db.query<{ owner: string; role: string; strategy: string }>(
            `SELECT owner, governance_role::text AS role, birth_code_strategy::text AS strategy
         FROM ${quoteIdent(schema)}.collection_registry WHERE collection_name = $1`,
            [`${app}.orders`],
          )
        ).rows[0],
    );
  const freezes = async () =>
    on(async (r) =>
      Number(
        (await r.db.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.operation_freeze`)).rows[0]
          ?.n,
      ),
    );

  before(async () => {
    target = backend.name === 'embedded' ? ['--data-dir', backend.freshDataDir()] : backend.cliTarget();
    schema = backend.uniqueName('natal');
    backend.adopt(schema);
    await on(async (r) => {
      await r.init();
      app = backend.uniqueName('dry');
      await r.db.exec(`CREATE SCHEMA ${quoteIdent(app)};
      CREATE TABLE ${quoteIdent(app)}.orders (id int PRIMARY KEY, code text UNIQUE NOT NULL)`);
      await r.addSpecies({ code: 'SPE-ORD', prefix: 'ORD', level: 'atom' });
      await r.addCollection({ table: `${app}.orders`, species: 'SPE-ORD' });
      if (backend.name === 'server') {
        admin = `natal_t_dry_${schema.slice(-8)}`;
        await r.db.exec(`CREATE ROLE ${quoteIdent(admin)} NOLOGIN`);
        await r.grantAccess(admin, ['admin']);
      }
    });
  });
  after(async () => {
    // its own connection: the backend's registries may be closed by now
    if (!admin) return;
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    try {
      await c.query(`DROP OWNED BY ${quoteIdent(admin)}`);
      await c.query(`DROP ROLE ${quoteIdent(admin)}`);
    } finally {
      await c.end();
    }
  });

  test('wire and unwire --dry-run say what they would do and change nothing', async () => {
    const text = await ok('wire', `${app}.orders`, '--dry-run');
    assert.match(text, /^dry run: nothing was changed; this is what the command would do:\nwired .*orders/);
    assert.deepEqual(await triggers(), []);
    const json = JSON.parse(await ok('wire', '--all', '--dry-run', '--json')) as {
      dry_run: boolean;
      wired: { collection_name: string }[];
    };
    assert.equal(json.dry_run, true);
    assert.deepEqual(
      json.wired.map((w) => w.collection_name).filter((n) => n.startsWith(app)),
      [`${app}.orders`],
    );
    assert.deepEqual(await triggers(), []);
    await ok('wire', `${app}.orders`);
    const wired = await triggers();
    assert.ok(wired.includes('natal_birth_auto'), wired.join());
    assert.match(await ok('unwire', `${app}.orders`, '--dry-run'), /\nunwired .*orders/);
    assert.deepEqual(await triggers(), wired);
  });

  test('collection set, identity set, freeze and unfreeze --dry-run change nothing', async () => {
    const before = await collection();
    const owner = admin ?? 'someone';
    const set = JSON.parse(
      await ok('collection', 'set', `${app}.orders`, '--owner', owner, '--dry-run', '--json'),
    ) as {
      dry_run: boolean;
      owner: string;
    };
    assert.deepEqual([set.dry_run, set.owner], [true, owner]);
    const id = JSON.parse(
      await ok(
        'identity',
        'set',
        `${app}.orders`,
        '--strategy',
        'column',
        '--column',
        'code',
        '--dry-run',
        '--json',
      ),
    ) as { birth_code_strategy: string };
    assert.equal(id.birth_code_strategy, 'column');
    assert.deepEqual(await collection(), before);
    assert.match(await ok('freeze', 'backfill', '--reason', 'audit', '--dry-run'), /\nbackfill frozen by /);
    assert.equal(await freezes(), 0);
    await ok('freeze', 'backfill', '--reason', 'audit');
    assert.match(await ok('unfreeze', 'backfill', '--dry-run'), /\nbackfill unfrozen/);
    assert.equal(await freezes(), 1);
    await ok('unfreeze', 'backfill');
  });

  test('a dry run refused is refused as the change would be, and writes nothing', async () => {
    const res = await run('wire', `${app}.nope`, '--dry-run');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /nope/);
    assert.doesNotMatch(res.stdout, /dry run/);
  });
});
