/**
 * The Registry: natal's library entry point. The CLI is a thin layer over it; the library
 * never prints, it returns results.
 */
import type { Backend } from './db/backend.js';
import { connect } from './db/connect.js';
import { assertIdentifier } from './db/ident.js';
import { NatalError } from './errors.js';
import { type DoctorReport, doctor } from './schema/doctor.js';
import { type MigrateResult, migrate, readSchemaState } from './schema/migrations.js';
import type { RegistryOptions } from './types.js';

export const DEFAULT_SCHEMA = 'natal';
export const MIN_SERVER_VERSION = 130000;

export class Registry {
  private constructor(
    readonly db: Backend,
    readonly schema: string,
  ) {}

  /** Connects and checks the server is new enough; does not touch natal's schema. */
  static async open(options: RegistryOptions = {}): Promise<Registry> {
    const schema = assertIdentifier(options.schema ?? DEFAULT_SCHEMA, 'schema name');
    const db = await connect(options);
    try {
      const { rows } = await db.query<{ v: number }>(
        `SELECT current_setting('server_version_num')::int AS v`,
      );
      const version = rows[0]?.v ?? 0;
      if (version < MIN_SERVER_VERSION) {
        throw new NatalError(
          'SERVER_TOO_OLD',
          `PostgreSQL ${Math.floor(version / 10000)} is too old; natal needs 13 or newer`,
        );
      }
    } catch (err) {
      await db.close();
      throw err;
    }
    return new Registry(db, schema);
  }

  /** Creates or upgrades natal's schema. A second run changes nothing. */
  init(): Promise<MigrateResult> {
    return migrate(this.db, this.schema);
  }

  /** Compares the live schema with what the migrations should have produced. */
  doctor(): Promise<DoctorReport> {
    return doctor(this.db, this.schema);
  }

  /** Refuses to work on a schema that is missing, behind, tampered with or too new. */
  async assertReady(): Promise<void> {
    const state = await readSchemaState(this.db, this.schema);
    if (state.status === 'absent') {
      throw new NatalError(
        'NOT_INITIALIZED',
        `natal is not installed in schema ${this.schema} at ${this.db.location}; run natal init`,
      );
    }
    if (state.status === 'pending') {
      throw new NatalError(
        'SCHEMA_OUTDATED',
        `schema ${this.schema} lacks ${state.pending.length} migration(s) of this natal; run natal init`,
      );
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
