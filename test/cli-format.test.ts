import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import { count, table } from '../src/cli/format.js';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

/** CJK characters take two terminal columns and one UTF-16 unit each. */
const CJK = '订单';
/** One emoji (a ZWJ sequence) of two columns and five UTF-16 units, and a space. */
const EMOJI = '👩‍🍳 cooks';

/**
 * Where each cell of a table line starts, in terminal columns: a cell starts at the line's
 * start or after two spaces (cells here hold no double space).
 */
function cellStarts(line: string): number[] {
  return [...line.matchAll(/(?<=^| {2})\S/gu)].map((m) => stringWidth(line.slice(0, m.index)));
}

/** Every line of `text` (a table: headers, dashes, rows) starts its cells where the header does. */
function assertAligned(text: string): void {
  const lines = text.split('\n');
  const header = cellStarts(lines[0] ?? '');
  assert.ok(header.length > 1, text);
  for (const line of lines.slice(1)) {
    assert.deepEqual(cellStarts(line), header, `columns do not line up:\n${text}`);
  }
}

describe('cli format', () => {
  test('table pads by display width: CJK and emoji names line up', () => {
    assert.notEqual(stringWidth(CJK), CJK.length);
    assert.notEqual(stringWidth(EMOJI), EMOJI.length);
    const text = table(
      ['collection', 'rows', 'state'],
      [
        [`app.${CJK}`, count(1234), 'COMPLETE'],
        [`app.${EMOJI}`, count(null), 'NOT_WIRED'],
        ['app.orders', count(5), 'COMPLETE'],
      ],
    );
    assertAligned(text);
    // The dashes under a header are as wide as the widest cell of its column.
    const dashes = (text.split('\n')[1] ?? '').split('  ');
    assert.equal(dashes[0]?.length, stringWidth(`app.${EMOJI}`));
  });

  test('count: thousands separators; null and undefined as -', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.equal(count(0), '0');
    assert.equal(count(null), '-');
    assert.equal(count(undefined), '-');
  });
});

eachBackend('cli format', (backend) => {
  test('collection list: a CJK and an emoji collection name line up with the others', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('app');
    const run = async (...args: string[]) => {
      const r = await natal([...args, ...target, '--schema', schema]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await run('init');
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const r = await Registry.open(opts);
    const a = quoteIdent(app);
    await r.db.exec(`CREATE SCHEMA ${a};
      CREATE TABLE ${a}.${quoteIdent(CJK)} (id int PRIMARY KEY);
      CREATE TABLE ${a}.${quoteIdent(EMOJI)} (id int PRIMARY KEY);
      CREATE TABLE ${a}.orders (id int PRIMARY KEY)`);
    await r.close();
    await run('species', 'add', 'SPE-ORD', '--prefix', 'ORD', '--level', 'atom');
    for (const t of [CJK, EMOJI, 'orders']) {
      await run('collection', 'add', `${quoteIdent(app)}.${quoteIdent(t)}`, '--species', 'SPE-ORD');
    }
    const text = (await run('collection', 'list')).trimEnd();
    assert.ok(text.includes(CJK) && text.includes(EMOJI), text);
    assertAligned(text);
  });
});
