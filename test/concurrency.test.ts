/**
 * Concurrency on a real server: birth-first creators and direct inserters writing into one
 * wired collection at once must leave exactly one birth per row, and no birth without a row.
 * PGlite is single-connection, so this suite runs on the server only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { SERVER_URL, dropNatalRoles } from './helpers/backends.js';

const CREATORS = 8;
const PER_CREATOR = 1000;
const INSERTERS = 2;
const PER_INSERTER = 1000;

const unique = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

async function connected(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: SERVER_URL, application_name: 'natal-test' });
  await client.connect();
  return client;
}

/** Runs every worker to its end (none is abandoned mid-flight), then fails on the first error. */
async function all<T>(workers: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(workers);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

describe(
  'concurrent births [server]',
  SERVER_URL === undefined ? { skip: 'no PostgreSQL server (NATAL_TEST_DATABASE_URL)' } : {},
  () => {
    const natalSchema = unique('natal');
    const appSchema = unique('app');
    const clients: pg.Client[] = [];
    let registry: Registry | undefined;

    after(async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await registry?.close();
      const admin = await connected();
      try {
        for (const s of [natalSchema, appSchema]) {
          await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
        }
        await dropNatalRoles(admin, natalSchema);
      } finally {
        await admin.end();
      }
    });

    test(`${CREATORS} gateway creators × ${PER_CREATOR} and ${INSERTERS} direct inserters: one birth per row`, async () => {
      registry = await Registry.open({ db: SERVER_URL, schema: natalSchema });
      await registry.init();
      await registry.addSpecies({ code: 'SPE-CON', prefix: 'CON', level: 'atom' });
      const ns = quoteIdent(natalSchema);
      const table = `${quoteIdent(appSchema)}.things`;
      await registry.db.exec(
        `CREATE SCHEMA ${quoteIdent(appSchema)};
         CREATE TABLE ${table} (id bigserial PRIMARY KEY, code text UNIQUE, name text NOT NULL,
                                _dot_origin text)`,
      );
      const { collection_name: collection } = await registry.addCollection({
        table,
        species: 'SPE-CON',
        codeColumn: 'code',
      });
      await registry.wire([table]);

      for (let i = 0; i < CREATORS + INSERTERS; i++) clients.push(await connected());
      const creators = clients.slice(0, CREATORS);
      const inserters = clients.slice(CREATORS);

      const created = all(
        creators.map(async (client, k) => {
          const codes: string[] = [];
          for (let i = 0; i < PER_CREATOR; i++) {
            const { rows } = await client.query<{ birth: { entity_code: string } }>(
              `SELECT ${ns}.create_entity($1, $2::jsonb, 'test') AS birth`,
              [collection, JSON.stringify({ name: `creator ${k} #${i}` })],
            );
            codes.push(rows[0]?.birth.entity_code as string);
          }
          return codes;
        }),
      );
      const inserted = all(
        inserters.map(async (client, k) => {
          for (let i = 0; i < PER_INSERTER; i++) {
            await client.query(
              `INSERT INTO ${table} (code, name, _dot_origin) VALUES ($1, $2, 'direct-test')`,
              [`DIRECT-${k * PER_INSERTER + i}`, `inserter ${k} #${i}`],
            );
          }
        }),
      );
      const [gatewayCodes] = await Promise.all([created, inserted]);

      const returned = gatewayCodes.flat();
      assert.equal(returned.length, CREATORS * PER_CREATOR);
      assert.equal(new Set(returned).size, returned.length, 'the gateway never hands a code out twice');
      assert.ok(
        returned.every((c) => /^CON-\d{3,}$/.test(c)),
        'gateway codes are CON-NNN',
      );

      /** A count; `$1` in `sql` is the collection's name. */
      const q = async (sql: string) => {
        const params = sql.includes('$1') ? [collection] : [];
        const { rows } = await (registry as Registry).db.query<{ n: number }>(sql, params);
        return rows[0]?.n;
      };
      const rowCount = await q(`SELECT count(*)::int AS n FROM ${table}`);
      assert.equal(rowCount, CREATORS * PER_CREATOR + INSERTERS * PER_INSERTER);

      // no duplicate codes, and no row without one
      assert.equal(
        await q(
          `SELECT count(*)::int AS n FROM (SELECT code FROM ${table} 
           GROUP BY code HAVING count(*) > 1) AS d`,
        ),
        0,
      );
      assert.equal(await q(`SELECT count(*)::int AS n FROM ${table} WHERE code IS NULL`), 0);

      // no orphan: every row has a birth, in this collection
      assert.equal(
        await q(
          `SELECT count(*)::int AS n FROM ${table} t
           WHERE NOT EXISTS (SELECT 1 FROM ${ns}.birth_registry b
                             WHERE b.entity_code = t.code AND b.collection_name = $1)`,
        ),
        0,
      );
      // no phantom: every birth of the collection has a row
      assert.equal(
        await q(
          `SELECT count(*)::int AS n FROM ${ns}.birth_registry b
           WHERE b.collection_name = $1
             AND NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.code = b.entity_code)`,
        ),
        0,
      );
      const birthCount = await q(
        `SELECT count(*)::int AS n FROM ${ns}.birth_registry WHERE collection_name = $1`,
      );
      assert.equal(birthCount, rowCount, 'births == rows');

      // each path made the births it should, with the origin it was given
      const { rows: byPath } = await registry.db.query<{
        operation: string;
        dot_origin: string;
        n: number;
      }>(
        `SELECT operation::text, dot_origin, count(*)::int AS n FROM ${ns}.birth_registry
         WHERE collection_name = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
        [collection],
      );
      assert.deepEqual(byPath, [
        { operation: 'gateway', dot_origin: 'test', n: CREATORS * PER_CREATOR },
        { operation: 'trigger', dot_origin: 'direct-test', n: INSERTERS * PER_INSERTER },
      ]);

      // every code the gateway returned is the code of a row it created
      const { rows: matched } = await registry.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table}
         WHERE code = ANY ($1::text[]) AND name LIKE 'creator %' AND _dot_origin = 'test'`,
        [returned],
      );
      assert.equal(matched[0]?.n, returned.length);
    });
  },
);
