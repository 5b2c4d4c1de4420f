/**
 * Every key natal writes with --json is snake_case (issue 17): a script reads them one way.
 * Kept for scripts written before: `init`'s upToDate (beside up_to_date). Keys that are data
 * (a collection's name, a table's) are not natal's words and are not judged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

const KEPT = new Set(['upToDate']);

/** Every key of `value` that is not snake_case, with where it is. */
function badKeys(value: unknown, path: string, data: (path: string) => boolean): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => badKeys(v, `${path}[${i}]`, data));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = `${path}.${k}`;
    if (data(path)) return badKeys(v, here, data);
    const own = /^[a-z][a-z0-9_]*$/.test(k) || KEPT.has(k) ? [] : [here];
    return [...own, ...badKeys(v, here, data)];
  });
}

eachBackend('cli --json keys', (backend) => {
  test('every command’s --json keys are snake_case', async () => {
    const target = backend.name === 'embedded' ? ['--data-dir', backend.freshDataDir()] : backend.cliTarget();
    const schema = backend.uniqueName('keys');
    backend.adopt(schema);
    const json = async (...args: string[]) => {
      const r = await natal([...args, ...target, '--schema', schema, '--json']);
      assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as unknown;
    };
    const outputs: [string, unknown][] = [];
    const run = async (...args: string[]) => outputs.push([args.join(' '), await json(...args)]);
    await run('init');
    await run('species', 'add', 'SPE-K', '--prefix', 'K', '--level', 'atom');
    await run('species', 'list');
    await run('collection', 'list');
    await run('status');
    await run('census');
    await run('triggers');
    await run('preflight');
    await run('plans');
    await run('runs');
    await run('ledger');
    await run('ledger', '--verify');
    await run('doctor');
    await run('access', 'list');
    await run('inspect');
    await run('show', 'SPE-K');
    await run('report', '--since', '2020-01-01', '--format', 'json');
    // keys that are names of collections or tables (maps keyed by them) are data
    const data = (path: string) =>
      /\.(born|failed|gaps|staging|unclassified_collections|by_collection)$/.test(path);
    const bad = outputs.flatMap(([cmd, out]) => badKeys(out, cmd, data));
    assert.deepEqual(bad, []);
  });
});
