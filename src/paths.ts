/** Where natal's own files are, found from this module so it works from any working directory. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sql'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('natal: cannot find its package root (package.json + sql/)');
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();
export const SQL_DIR = join(PACKAGE_ROOT, 'sql');
/** The dashboard's own static files (natal serve). */
export const WEB_DIR = join(PACKAGE_ROOT, 'web');

export const NATAL_VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

const cache = new Map<string, string>();

/** The text of one of natal's `.sql` files, by its path under `sql/`. */
export function loadSql(relativePath: string): string {
  let text = cache.get(relativePath);
  if (text === undefined) {
    text = readFileSync(join(SQL_DIR, relativePath), 'utf8');
    cache.set(relativePath, text);
  }
  return text;
}
