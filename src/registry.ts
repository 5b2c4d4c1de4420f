/**
 * The Registry: natal's library entry point. The CLI is a thin layer over it; the library
 * never prints, it returns results.
 */
import {
  type AddCollection,
  addCollection,
  type Collection,
  listCollections,
  removeCollection,
  type SetCollection,
  setCollection,
} from './catalog/collections.js';
import { classify, type IdentityDecision, type Proposal, setIdentity } from './catalog/identity.js';
import { resolveCollections } from './catalog/names.js';
import { type AddSpecies, addSpecies, listSpecies, type Species } from './catalog/species.js';
import {
  type NotWired,
  type TriggerState,
  triggerInventory,
  unwireCollection,
  type WireResult,
  wireAll,
  wireCollections,
} from './catalog/wiring.js';
import {
  type Census,
  census,
  type CensusOptions,
  type DuplicateRisk,
  duplicateRisk,
  listOrphans,
  listPhantoms,
  listDeaths,
  type DeathListing,
  setCensusKeeping,
} from './census/census.js';
import { type Preflight, preflight } from './census/preflight.js';
import { type AccessEntry, changeAccess, listAccess } from './access/access.js';
import { type ChainVerification, verifyChain } from './backfill/chain.js';
import { type ApplyOptions, type ApplyResult, applyPlan } from './backfill/apply.js';
import {
  type Approval,
  type ApprovalCheck,
  type ApprovalKind,
  approvalCheck,
  approve,
  currentActor,
} from './backfill/approve.js';
import { type Freeze, freeze, listFreezes, unfreeze } from './backfill/freeze.js';
import { type LedgerRow, ledger } from './backfill/ledger.js';
import { getPlan, makePlan, type Plan, type PlanResult } from './backfill/plan.js';
import { type Rehearsal, rehearse } from './backfill/rehearse.js';
import { type RollbackResult, rollbackRun } from './backfill/rollback.js';
import { type BirthsOnDay, birthsPerDay } from './report/births.js';
import { buildReport, type Report, type ReportSelection } from './report/report.js';
import { type ListOptions, listPlans, listRuns, type PlanListing, type RunListing } from './report/lists.js';
import { type Ctx, makeCtx } from './context.js';
import type { Backend } from './db/backend.js';
import { connect } from './db/connect.js';
import { assertIdentifier } from './db/ident.js';
import { NatalError, sqlState } from './errors.js';
import { type BirthRecord, createEntity } from './gateway/create.js';
import { type InspectionResult, inspectBirths } from './inspect/inspect.js';
import { type Entity, type EntityKey, showEntity, showEntityByKey } from './show/show.js';
import { dryRun } from './db/dry-run.js';
import { type DoctorReport, doctor, expectationRecorded, recordExpectation } from './schema/doctor.js';
import { type MigrateResult, migrate, readSchemaState } from './schema/migrations.js';
import type { RegistryOptions } from './types.js';

export const DEFAULT_SCHEMA = 'natal';
export const MIN_SERVER_VERSION = 130000;

export class Registry {
  readonly ctx: Ctx;

  private constructor(
    readonly db: Backend,
    readonly schema: string,
  ) {
    this.ctx = makeCtx(db, schema);
  }

  /**
   * Runs `fn` on this registry in one transaction that is rolled back (`--dry-run`): what
   * it returns says what would change; nothing does.
   */
  dryRun<T>(fn: (dry: Registry) => Promise<T>): Promise<T> {
    return dryRun(this.db, (db) => fn(new Registry(db, this.schema)));
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: (tx: Ctx) => Promise<T>): Promise<T> {
    return this.db.transaction((q) => fn(makeCtx(q, this.schema)));
  }

  /** Connects and checks the server is new enough; does not touch natal's schema. */
  static async open(options: RegistryOptions = {}): Promise<Registry> {
    const schema = assertIdentifier(options.schema ?? DEFAULT_SCHEMA, 'schema name');
    const as = options.as?.trim();
    if (as === '') throw new NatalError('INVALID_ARGUMENT', 'who acts (as) is an empty name; give a name');
    const db = await connect({ ...options, as });
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
      if (as !== undefined && db.kind === 'embedded') await setActor(db, as);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new Registry(db, schema);
  }

  /** Creates or upgrades natal's schema. A second run changes nothing. */
  async init(): Promise<MigrateResult> {
    const result = await migrate(this.db, this.schema);
    // On a server, what natal doctor expects is recorded for a reader's doctor, who may not
    // build it: after every change, and once for a schema of before (or another major).
    if (
      this.db.kind === 'server' &&
      (!result.upToDate || !(await expectationRecorded(this.db, this.schema)))
    ) {
      await recordExpectation(this.db, this.schema);
    }
    return result;
  }

  /** Compares the live schema with what the migrations should have produced. */
  doctor(): Promise<DoctorReport> {
    return doctor(this.db, this.schema);
  }

  /** Refuses to work on a schema that is missing, behind, tampered with or too new. */
  async assertReady(): Promise<void> {
    const state = await readSchemaState(this.db, this.schema).catch(async (err: unknown) => {
      // A role that is none of natal's may not read its schema: say which role it needs.
      if (sqlState(err) !== '42501') throw err;
      const { rows } = await this.db.query<{ u: string }>('SELECT session_user AS u');
      const user = rows[0]?.u ?? 'this role';
      throw new NatalError(
        'NOT_PERMITTED',
        `${user} is not a natal reader (nor any of natal's roles in schema ${this.schema}): natal access grant ${user} reader`,
        { cause: err },
      );
    });
    if (state.status === 'absent') {
      throw new NatalError(
        'NOT_INITIALIZED',
        `natal is not installed in schema ${this.schema} at ${this.db.location}; run natal init`,
      );
    }
    if (state.status === 'pending') {
      throw new NatalError(
        'SCHEMA_OUTDATED',
        state.pending.length > 0
          ? `schema ${this.schema} lacks ${state.pending.length} migration(s) of this natal; run natal init`
          : `schema ${this.schema} has functions older than this natal (${state.definitions.join(', ')}); run natal init`,
      );
    }
  }

  // -- catalog ------------------------------------------------------------------------

  /** Registers a species; its catalog row is born (Case 3). */
  addSpecies(input: AddSpecies): Promise<Species> {
    return addSpecies(this.ctx, input);
  }

  listSpecies(): Promise<Species[]> {
    return listSpecies(this.ctx);
  }

  /** Registers a table as a collection; its catalog row is born, its data rows are not. */
  addCollection(input: AddCollection): Promise<Collection> {
    return this.transaction((tx) => addCollection(tx, input));
  }

  async listCollections(tables?: string[]): Promise<Collection[]> {
    const names = tables && (await resolveCollections(this.ctx, tables));
    return listCollections(this.ctx, names);
  }

  /** Undoes the registration of a collection that has no births. */
  removeCollection(table: string): Promise<Collection> {
    return this.transaction((tx) => removeCollection(tx, table));
  }

  setCollection(table: string, change: SetCollection): Promise<Collection> {
    return setCollection(this.ctx, (fn) => this.transaction(fn), table, change);
  }

  /** Wires the named collections in one transaction (all or none). */
  wire(tables: string[]): Promise<WireResult[]> {
    return this.transaction((tx) => wireCollections(tx, tables));
  }

  /** Wires every governed collection that can be, and lists the others with the reason. */
  wireAll(): Promise<{ wired: WireResult[]; not_wired: NotWired[] }> {
    return wireAll(this.ctx, (fn) => this.transaction(fn));
  }

  unwire(table: string): Promise<{ collection_name: string; was_wired: boolean }> {
    return this.transaction((tx) => unwireCollection(tx, table));
  }

  /** The trigger inventory, every collection's functions generated again and compared. */
  triggers(): Promise<TriggerState[]> {
    return triggerInventory(this.ctx, undefined, true);
  }

  // -- identity, census, readiness ------------------------------------------------------

  /** Proposes identities with evidence; `apply` records the certain ones. */
  classify(tables: string[] = [], options: { apply?: boolean } = {}): Promise<Proposal[]> {
    return classify(this.ctx, (fn) => this.transaction(fn), tables, options);
  }

  /** The owner's identity decision. */
  setIdentity(table: string, decision: IdentityDecision): Promise<Collection> {
    return this.transaction((tx) => setIdentity(tx, table, decision));
  }

  /** Turns the kept census on or off (see docs/CONCEPTS.md, "kept census"). */
  setCensusKeeping(on: boolean): Promise<void> {
    return this.transaction((tx) => setCensusKeeping(tx, on));
  }

  census(tables: string[] = [], options: CensusOptions = {}): Promise<Census> {
    return this.transaction((tx) => census(tx, tables, options));
  }

  orphans(table: string, limit = 100): Promise<{ entity_code: string; born_elsewhere: string | null }[]> {
    return listOrphans(this.ctx, table, limit);
  }

  phantoms(
    table: string,
    limit = 100,
  ): Promise<{ entity_code: string; born_at: Date; dot_origin: string }[]> {
    return listPhantoms(this.ctx, table, limit);
  }

  /** The births of `table` whose rows are gone with a recorded death (a delete, truncate, re-key). */
  deaths(table: string, limit = 100): Promise<DeathListing[]> {
    return listDeaths(this.ctx, table, limit);
  }

  duplicateRisk(tables?: string[]): Promise<DuplicateRisk[]> {
    return duplicateRisk(this.ctx, tables);
  }

  preflight(tables: string[] = []): Promise<Preflight[]> {
    return preflight(this.ctx, tables);
  }

  // -- births -------------------------------------------------------------------------

  /** Birth-first creation (QT-002): the birth, then the entity, in one transaction. */
  create(collection: string, data: unknown, origin?: string): Promise<BirthRecord> {
    return createEntity(this.ctx, { collection, data, origin });
  }

  inspect(tables: string[] = [], options: { recheck?: boolean } = {}): Promise<InspectionResult[]> {
    return inspectBirths(this.ctx, tables, options);
  }

  /**
   * The birth certificate of the entity with this code (natal.show): its birth, how it was
   * born, its inspection, whether its row exists (and the row, if you may read its table),
   * and its history. An unknown code fails with ENTITY_UNKNOWN, naming the closest codes.
   */
  show(code: string): Promise<Entity> {
    return showEntity(this.ctx, code);
  }

  /**
   * The same, found from a row of `table`: `key` is the key's value, or an object of every
   * column of a composite key (`{ film_id: 1, actor_id: 2 }`).
   */
  showRow(table: string, key: EntityKey): Promise<Entity> {
    return showEntityByKey(this.ctx, table, key);
  }

  // -- the backfill (QT-001) -------------------------------------------------------------

  /** The dry run: eligible collections' exact gaps, pinned by a fingerprint. No birth. */
  plan(tables: string[] = []): Promise<PlanResult> {
    return makePlan(this.ctx, (fn) => this.transaction(fn), tables);
  }

  getPlan(planId: number): Promise<Plan> {
    return getPlan(this.ctx, planId);
  }

  /** Apply, check, apply again, roll back: net births 0. */
  rehearse(planId: number): Promise<Rehearsal> {
    return rehearse(this.ctx, planId);
  }

  approve(planId: number, kind: ApprovalKind, note?: string): Promise<Approval> {
    return approve(this.ctx, planId, kind, note);
  }

  /** Whether this registry's actor may review (or permit) the plan now; if not, the gate's reason. */
  approvalCheck(planId: number, kind: ApprovalKind): Promise<ApprovalCheck> {
    return approvalCheck(this.ctx, planId, kind);
  }

  /** Births per day of the last `days` days, by origin (the `top` origins apart, the rest as other). */
  birthsPerDay(days = 30, top = 6): Promise<BirthsOnDay[]> {
    return birthsPerDay(this.ctx, days, top);
  }

  /** The gated apply, in committed keyset batches; `resume` continues a killed run. */
  apply(planId: number, options: ApplyOptions = {}): Promise<ApplyResult> {
    return applyPlan(this.db, this.schema, planId, options);
  }

  rollback(runId: number, options: { dryRun?: boolean } = {}): Promise<RollbackResult> {
    return rollbackRun(this.ctx, runId, options.dryRun === true);
  }

  freeze(target: string, reason?: string): Promise<Freeze> {
    return freeze(this.ctx, target, reason);
  }

  unfreeze(target: string): Promise<{ target: string; was_frozen: boolean }> {
    return unfreeze(this.ctx, target);
  }

  freezes(): Promise<Freeze[]> {
    return listFreezes(this.ctx);
  }

  /** Ledger rows in order; `limit`: only the newest that many (still in order). */
  ledger(filter: { plan?: number; run?: number; limit?: number } = {}): Promise<LedgerRow[]> {
    return ledger(this.ctx, filter);
  }

  /** The newest plans (default 20), newest first, each with its state, approvals and births. */
  plans(options: ListOptions = {}): Promise<PlanListing[]> {
    return this.snapshot((tx) => listPlans(tx, options));
  }

  /** The newest runs (default 20; of one plan with `plan`), newest first. */
  runs(options: ListOptions & { plan?: number; run?: number } = {}): Promise<RunListing[]> {
    return this.snapshot((tx) => listRuns(tx, options));
  }

  /** Reads in one transaction at one snapshot (repeatable read). */
  private snapshot<T>(fn: (tx: Ctx) => Promise<T>): Promise<T> {
    return this.transaction(async (tx) => {
      await tx.db.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      return fn(tx);
    });
  }

  /** The report of a plan, a run, or every plan since a date (default: the latest plan). */
  report(selection: ReportSelection = {}): Promise<Report> {
    return buildReport(this.ctx, selection);
  }

  /** Makes `login` a member of natal's `roles` (admin only; a server only). */
  grantAccess(login: string, roles: string[]): Promise<AccessEntry> {
    return this.transaction((tx) => changeAccess(tx, login, roles, true));
  }

  revokeAccess(login: string, roles: string[]): Promise<AccessEntry> {
    return this.transaction((tx) => changeAccess(tx, login, roles, false));
  }

  /** Who holds which of natal's roles (empty embedded: there are no roles). */
  access(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  /** Recomputes the hash chain over the ledger and approvals. */
  verifyLedger(): Promise<ChainVerification> {
    return verifyChain(this.ctx);
  }

  /** Who the database records as acting on this registry. */
  actor(): Promise<string> {
    return currentActor(this.ctx);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Names the actor on the embedded backend (one database user): the natal.actor setting. */
async function setActor(db: Backend, as: string): Promise<void> {
  await db.query(`SELECT set_config('natal.actor', $1, false)`, [as]);
}
