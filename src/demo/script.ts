/** Runs the demo's SQL files in one transaction, with their settings (values as parameters). */
import { quoteIdent } from '../db/ident.js';
import { loadSql } from '../paths.js';
import type { Registry } from '../registry.js';

export async function runScript(
  registry: Registry,
  files: string[],
  settings: Record<string, string>,
  options: { searchPath?: string[]; before?: string } = {},
): Promise<void> {
  await registry.transaction(async (tx) => {
    if (options.before) await tx.db.exec(options.before);
    if (options.searchPath) {
      await tx.db.exec(`SET LOCAL search_path TO ${options.searchPath.map(quoteIdent).join(', ')}`);
    }
    for (const [name, value] of Object.entries(settings)) {
      await tx.db.query(`SELECT set_config($1, $2, true)`, [name, value]);
    }
    for (const file of files) await tx.db.exec(loadSql(`demo/${file}`));
  });
}
