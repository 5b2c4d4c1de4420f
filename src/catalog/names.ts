/**
 * Table names as users type them: `table` (in public) or `schema.table`, read as SQL reads
 * them: a part in double quotes is taken exactly ("" is a quote inside it) and may hold
 * dots; an unquoted part folds to lower case, so `PUBLIC.Album` is public.album and the
 * table Album is `'"Album"'`.
 */
import type { Ctx } from '../context.js';
import { assertIdentifier } from '../db/ident.js';
import { NatalError } from '../errors.js';

export const DEFAULT_TABLE_SCHEMA = 'public';

export interface TableName {
  schema: string;
  table: string;
}

/** PostgreSQL's folding of an unquoted identifier: ASCII letters to lower case, nothing else. */
function fold(part: string): string {
  return part.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
}

function splitParts(input: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        current += ch;
      }
    } else if (ch === '"' && current === '' && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
    } else if (ch === '.') {
      parts.push(wasQuoted ? current : fold(current));
      current = '';
      wasQuoted = false;
    } else if (wasQuoted) {
      throw new NatalError('INVALID_ARGUMENT', `table name ${input} has text after a closing quote`);
    } else {
      current += ch;
    }
  }
  if (quoted) throw new NatalError('INVALID_ARGUMENT', `table name ${input} has an unclosed quote`);
  parts.push(wasQuoted ? current : fold(current));
  return parts;
}

export function parseTableName(input: string): TableName {
  const parts = splitParts(input);
  if (parts.length > 2) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `table name ${input} has more than two dotted parts; write schema.table, quoting a part that holds a dot ("a.b")`,
    );
  }
  const [a, b] = parts as [string, string | undefined];
  const schema = b === undefined ? DEFAULT_TABLE_SCHEMA : a;
  const table = b === undefined ? a : b;
  assertIdentifier(schema, `schema name in ${input}`);
  assertIdentifier(table, `table name in ${input}`);
  return { schema, table };
}

/** The registered collection a user means by `input`: its exact name, or its table. */
export async function resolveCollection({ db, ns }: Ctx, input: string): Promise<string> {
  const { rows: exact } = await db.query<{ name: string }>(
    `SELECT collection_name AS name FROM ${ns}.collection_registry WHERE collection_name = $1`,
    [input],
  );
  if (exact[0]) return exact[0].name;
  const { schema, table } = parseTableName(input);
  const { rows } = await db.query<{ name: string }>(
    `SELECT collection_name AS name FROM ${ns}.collection_registry WHERE table_schema = $1 AND table_name = $2`,
    [schema, table],
  );
  if (!rows[0]) {
    // The same name but for case: say so (unquoted names fold, as in SQL).
    const { rows: near } = await db.query<{ name: string }>(
      `SELECT collection_name AS name FROM ${ns}.collection_registry
       WHERE lower(table_schema) = lower($1) AND lower(table_name) = lower($2) ORDER BY 1 LIMIT 1`,
      [schema, table],
    );
    throw new NatalError(
      'COLLECTION_UNKNOWN',
      near[0]
        ? `collection ${input} is not registered; did you mean ${near[0].name}? (unquoted names fold to lower case, as in SQL)`
        : `collection ${input} is not registered; register it with: natal collection add ${input} --species CODE`,
    );
  }
  return rows[0].name;
}

/**
 * Several names resolved one after another: one query at a time on a client (several at
 * once on one client is deprecated by the driver, and warns).
 */
export async function resolveCollections(ctx: Ctx, inputs: string[]): Promise<string[]> {
  const names: string[] = [];
  for (const input of inputs) names.push(await resolveCollection(ctx, input));
  return names;
}
