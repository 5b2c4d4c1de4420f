import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseTableName } from '../src/catalog/names.js';
import { MAX_IDENT_BYTES, quoteIdent } from '../src/db/ident.js';
import { NatalError } from '../src/errors.js';
import type { Registry } from '../src/registry.js';
import { eachBackend } from './helpers/backends.js';

/** SQL's folding of an unquoted name: ASCII letters only. */
const fold = (x: string) => x.replace(/[A-Z]/g, (c) => c.toLowerCase());

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The quoted form a user (or natal) writes: `"schema"."table"`, quotes doubled. */
const quoted = (schema: string, table: string) =>
  `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NatalError, `expected a NatalError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/**
 * One character of an identifier: biased towards what makes quoting hard (quotes, dots,
 * spaces, capitals, multi-byte characters), and otherwise any code point (never a lone
 * surrogate). NUL is filtered out below.
 */
const identChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('"', '.', ' ', 'A', 'z', '_', '$', '%', '\\', "'") },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ß', 'Ω', '中', '😀', '\t', '-', '$body$') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

/** A valid identifier: non-empty, no NUL, at most 63 UTF-8 bytes. */
const identifier = fc
  .string({ unit: identChar, minLength: 1, maxLength: 40 })
  .filter((s) => !s.includes('\0') && bytes(s) <= MAX_IDENT_BYTES);

/** Exactly `n` UTF-8 bytes, made of 1-, 2-, 3- and 4-byte characters. */
function ofBytes(n: number): fc.Arbitrary<string> {
  const chars = fc.array(fc.constantFrom('a', 'Q', '"', '.', ' ', 'é', '中', '😀'), {
    minLength: 1,
    maxLength: n,
  });
  return chars.map((cs) => {
    let s = '';
    for (const c of cs) if (bytes(s + c) <= n) s += c;
    return s + 'x'.repeat(n - bytes(s));
  });
}

describe('parseTableName and quoteIdent (properties)', () => {
  test('the quoted "schema"."table" form parses back to the same pair', () => {
    fc.assert(
      fc.property(identifier, identifier, (schema, table) => {
        assert.deepEqual(parseTableName(quoted(schema, table)), { schema, table });
      }),
      { numRuns: 2000 },
    );
  });

  test('qualified names made with quoteIdent parse back', () => {
    fc.assert(
      fc.property(identifier, identifier, (schema, table) => {
        const q = quoteIdent(table);
        assert.deepEqual(parseTableName(`${quoteIdent(schema)}.${q}`), { schema, table });
        // a quoted table alone is in public
        assert.deepEqual(parseTableName(q), { schema: 'public', table });
      }),
      { numRuns: 1000 },
    );
  });

  test('a bare name without dots or quotes is a table in public, folded to lower case as SQL folds it', () => {
    const bare = identifier.filter((s) => !s.includes('.') && !s.includes('"'));
    fc.assert(
      fc.property(bare, (table) => {
        assert.deepEqual(parseTableName(table), { schema: 'public', table: fold(table) });
      }),
      { numRuns: 1000 },
    );
  });

  test('an unquoted schema.table without dots or quotes in its parts splits on the dot', () => {
    const bare = identifier.filter((s) => !s.includes('.') && !s.includes('"'));
    fc.assert(
      fc.property(bare, bare, (schema, table) => {
        assert.deepEqual(parseTableName(`${schema}.${table}`), { schema: fold(schema), table: fold(table) });
      }),
      { numRuns: 1000 },
    );
  });

  test('63 bytes is accepted and 64 refused, counted in UTF-8 bytes, in either part', () => {
    fc.assert(
      fc.property(ofBytes(63), ofBytes(64), (ok, long) => {
        assert.equal(bytes(ok), 63);
        assert.equal(bytes(long), 64);
        assert.deepEqual(parseTableName(quoted('s', ok)), { schema: 's', table: ok });
        assert.deepEqual(parseTableName(quoted(ok, 't')), { schema: ok, table: 't' });
        assert.deepEqual(parseTableName(quoteIdent(ok)), { schema: 'public', table: ok });
        throwsCode(() => parseTableName(quoted('s', long)), 'INVALID_IDENTIFIER', /63-byte/);
        throwsCode(() => parseTableName(quoted(long, 't')), 'INVALID_IDENTIFIER', /63-byte/);
        throwsCode(() => quoteIdent(long), 'INVALID_IDENTIFIER', /63-byte/);
      }),
      { numRuns: 300 },
    );
  });

  test('more than two dotted parts is refused', () => {
    fc.assert(
      fc.property(identifier, identifier, identifier, (a, b, c) => {
        throwsCode(
          () => parseTableName(`${quoteIdent(a)}.${quoteIdent(b)}.${quoteIdent(c)}`),
          'INVALID_ARGUMENT',
          /more than two dotted parts/,
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseTableName and quoteIdent (odd names)', () => {
  const cases: [string, { schema: string; table: string }][] = [
    ['orders', { schema: 'public', table: 'orders' }],
    // unquoted parts fold to lower case, as SQL folds them (ASCII letters only)
    ['Orders', { schema: 'public', table: 'orders' }],
    ['PUBLIC.Album', { schema: 'public', table: 'album' }],
    ['"Orders"', { schema: 'public', table: 'Orders' }],
    ['Sales."Orders"', { schema: 'sales', table: 'Orders' }],
    ['My Table', { schema: 'public', table: 'my table' }],
    ['Sales.Q1 Report', { schema: 'sales', table: 'q1 report' }],
    ['Ünïcödé', { schema: 'public', table: 'Ünïcödé' }],
    ['"Sales"."Q1 ""best"""', { schema: 'Sales', table: 'Q1 "best"' }],
    ['"a.b"."c.d"', { schema: 'a.b', table: 'c.d' }],
    ['app."x.y"', { schema: 'app', table: 'x.y' }],
    ['"x.y"', { schema: 'public', table: 'x.y' }],
    ['""""', { schema: 'public', table: '"' }],
    ['"""".""""""', { schema: '"', table: '""' }],
    ['" lead and trail "', { schema: 'public', table: ' lead and trail ' }],
    ['"select"."from"', { schema: 'select', table: 'from' }],
    ['ab"c', { schema: 'public', table: 'ab"c' }],
    ['"Ünïcödé 中文 😀"', { schema: 'public', table: 'Ünïcödé 中文 😀' }],
  ];
  for (const [input, expected] of cases) {
    test(`parses ${input}`, () => {
      assert.deepEqual(parseTableName(input), expected);
    });
  }

  test('63-byte names are accepted; 64-byte names are refused with INVALID_IDENTIFIER', () => {
    for (const ok of ['x'.repeat(63), `${'é'.repeat(31)}x`, `${'😀'.repeat(15)}abc`]) {
      assert.equal(bytes(ok), 63);
      assert.deepEqual(parseTableName(ok), { schema: 'public', table: ok });
      assert.deepEqual(parseTableName(`${ok}.${ok}`), { schema: ok, table: ok });
    }
    // 32 characters, 64 bytes: the limit is in bytes, not characters
    for (const long of ['x'.repeat(64), 'é'.repeat(32), '😀'.repeat(16)]) {
      throwsCode(() => parseTableName(long), 'INVALID_IDENTIFIER', /63-byte/);
      throwsCode(() => parseTableName(`app.${long}`), 'INVALID_IDENTIFIER', /table name/);
      throwsCode(() => parseTableName(`${long}.t`), 'INVALID_IDENTIFIER', /schema name/);
      throwsCode(() => quoteIdent(long), 'INVALID_IDENTIFIER');
    }
    // a quoted 63-byte name that is 64 characters of input once its quotes are doubled
    const withQuotes = `${'"'.repeat(10)}${'q'.repeat(53)}`;
    assert.equal(bytes(withQuotes), 63);
    assert.deepEqual(parseTableName(quoted('s', withQuotes)), { schema: 's', table: withQuotes });
  });

  test('empty parts and NUL are INVALID_IDENTIFIER', () => {
    for (const input of ['', 'app.', '.t', '"".t', 'app.""', 'a\0b']) {
      throwsCode(() => parseTableName(input), 'INVALID_IDENTIFIER');
    }
    throwsCode(() => quoteIdent(''), 'INVALID_IDENTIFIER');
    throwsCode(() => quoteIdent('a\0b'), 'INVALID_IDENTIFIER', /NUL/);
  });

  test('an unclosed quote is INVALID_ARGUMENT', () => {
    for (const input of ['"abc', 'app."abc', '"app.abc', '"a""', '"a"."b']) {
      throwsCode(() => parseTableName(input), 'INVALID_ARGUMENT', /unclosed quote/);
    }
  });

  test('three dotted parts are INVALID_ARGUMENT', () => {
    for (const input of ['a.b.c', '"a"."b"."c"', 'db.app."t.x"', 'a..b']) {
      throwsCode(() => parseTableName(input), 'INVALID_ARGUMENT', /more than two dotted parts/);
    }
  });

  test('text after a closing quote is INVALID_ARGUMENT', () => {
    for (const input of ['"a"b', '"a"b.c', 'app."t"x', '"a" .b']) {
      throwsCode(() => parseTableName(input), 'INVALID_ARGUMENT', /after a closing quote/);
    }
  });

  test('quoteIdent always quotes and doubles inner quotes', () => {
    const table: [string, string][] = [
      ['orders', '"orders"'],
      ['Orders', '"Orders"'],
      ['select', '"select"'],
      ['a.b', '"a.b"'],
      ['My Table', '"My Table"'],
      ['My "odd" name', '"My ""odd"" name"'],
      ['"', '""""'],
      ['""', '""""""'],
      ['a"', '"a"""'],
      ['"a', '"""a"'],
      ["it's", `"it's"`],
      ['back\\slash', '"back\\slash"'],
      ['$body$', '"$body$"'],
      [' lead and trail ', '" lead and trail "'],
      ['tab\there', '"tab\there"'],
      ['Ünïcödé 中文 😀', '"Ünïcödé 中文 😀"'],
      // 63 bytes, the longest allowed: 65 characters quoted
      [
        'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
      ],
      // 63 bytes with ten quotes: 75 characters quoted
      [
        '""""""""""qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq',
        '"""""""""""""""""""""qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"',
      ],
    ];
    for (const [input, expected] of table) {
      assert.equal(quoteIdent(input), expected, input);
    }
  });
});

/** Odd table names for the database round trip: fixed ones, then generated ones. */
function oddTableNames(): string[] {
  const fixed = [
    'Mixed Case Table',
    'with "quotes" inside',
    'dots.in.the.name',
    '"',
    '"."',
    ' leading and trailing ',
    'select',
    "it's 100% \\ odd $f$ $$",
    'Ünïcödé 中文 😀',
    'x'.repeat(63),
    `${'é'.repeat(31)}x`,
    `${'😀'.repeat(15)}abc`,
  ];
  const generated = fc.sample(identifier, { seed: 20240611, numRuns: 40 });
  const names = [...new Set([...fixed, ...generated])].slice(0, 25);
  assert.equal(names.length, 25);
  return names;
}

/** Creates, registers and wires a table per name in `app`; returns name → collection. */
async function registerOddTables(
  registry: Registry,
  app: string,
  names: string[],
): Promise<Map<string, string>> {
  const collections = new Map<string, string>();
  for (const name of names) {
    await registry.db.exec(
      `CREATE TABLE ${quoteIdent(app)}.${quoteIdent(name)} (id int PRIMARY KEY, code text)`,
    );
    const c = await registry.addCollection({
      table: quoted(app, name),
      species: 'SPE-ODD',
      codeColumn: 'code',
    });
    assert.equal(c.table_schema, app, name);
    assert.equal(c.table_name, name, 'the table name survives registration exactly');
    assert.equal(c.has_table, true, name);
    assert.equal(c.birth_code_strategy, 'column', name);
    collections.set(name, c.collection_name);
  }
  return collections;
}

eachBackend('odd table names in a real database', (backend) => {
  async function setup(): Promise<{ registry: Registry; app: string; ns: string }> {
    const registry = await backend.open();
    await registry.init();
    const app = backend.uniqueName('app');
    await registry.db.exec(`CREATE SCHEMA ${quoteIdent(app)}`);
    await registry.addSpecies({ code: 'SPE-ODD', prefix: 'ODD', level: 'atom' });
    return { registry, app, ns: quoteIdent(registry.schema) };
  }

  test('a table under each odd name registers, wires and gets its rows born', async () => {
    const { registry, app, ns } = await setup();
    const names = oddTableNames();
    const inputs = names.map((name) => quoted(app, name));
    const collections = await registerOddTables(registry, app, names);

    const wired = await registry.wire(inputs);
    assert.deepEqual(
      wired.map((w) => w.collection_name),
      names.map((n) => collections.get(n)),
    );

    // entity_code is unique across the whole registry, so each table gets its own code
    for (const [i, name] of names.entries()) {
      await registry.db.query(
        `INSERT INTO ${quoteIdent(app)}.${quoteIdent(name)} (id, code) VALUES (1, $1)`,
        [`X-${i + 1}`],
      );
    }

    const listed = await registry.listCollections(inputs);
    assert.deepEqual(listed.map((c) => c.collection_name).sort(), [...collections.values()].sort());
    for (const [i, name] of names.entries()) {
      const [one] = await registry.listCollections([inputs[i] as string]);
      assert.equal(one?.collection_name, collections.get(name), name);
      assert.equal(one?.table_name, name);
      assert.equal(one?.wired, true, name);
      const { rows } = await registry.db.query<{ collection_name: string; n: number }>(
        `SELECT collection_name, count(*)::int AS n FROM ${ns}.birth_registry
         WHERE entity_code = $1 GROUP BY collection_name`,
        [`X-${i + 1}`],
      );
      assert.deepEqual(rows, [{ collection_name: collections.get(name), n: 1 }], name);
    }

    // the birth-first gateway works under the same names
    for (const [i, name] of names.entries()) {
      const birth = await registry.create(inputs[i] as string, { id: 2 }, 'names-test');
      assert.equal(birth.collection_name, collections.get(name), name);
      const { rows } = await registry.db.query<{ code: string }>(
        `SELECT code FROM ${quoteIdent(app)}.${quoteIdent(name)} WHERE id = 2`,
      );
      assert.deepEqual(rows, [{ code: birth.entity_code }], name);
      assert.match(birth.entity_code, /^ODD-\d{3,}$/);
    }

    const triggers = await registry.triggers();
    for (const name of names) {
      const t = triggers.find((x) => x.collection_name === collections.get(name));
      assert.equal(t?.functional, true, `${name}: ${t?.problem}`);
    }
  });

  // Regression: create_entity's generated body once dollar-quoted collection names, so a
  // name holding "$body$" ended it early and could never be wired.
  test('a table name holding $body$ can be wired and its rows are born', async () => {
    const { registry, app, ns } = await setup();
    const names = ['$body$', "it's $body$ 100% \\ odd"];
    const collections = await registerOddTables(registry, app, names);
    for (const [i, name] of names.entries()) {
      await registry.wire([quoted(app, name)]);
      await registry.db.query(
        `INSERT INTO ${quoteIdent(app)}.${quoteIdent(name)} (id, code) VALUES (1, $1)`,
        [`B-${i + 1}`],
      );
      const { rows } = await registry.db.query<{ collection_name: string }>(
        `SELECT collection_name FROM ${ns}.birth_registry WHERE entity_code = $1`,
        [`B-${i + 1}`],
      );
      assert.deepEqual(rows, [{ collection_name: collections.get(name) }], name);
    }
  });
});
