/** natal's TypeScript API. */

export type { Collection, SetCollection } from './catalog/collections.js';
export type { Species } from './catalog/species.js';
export type { TriggerState, WireResult } from './catalog/wiring.js';
export type { Backend, BackendKind, Queryable, QueryResult } from './db/backend.js';
export { qualify, quoteIdent } from './db/ident.js';
export { NatalError, type NatalErrorCode, SqlState } from './errors.js';
export type { BirthRecord } from './gateway/create.js';
export type { InspectionResult } from './inspect/inspect.js';
export { NATAL_VERSION } from './paths.js';
export { DEFAULT_SCHEMA, Registry } from './registry.js';
export { renderMarkdown } from './report/markdown.js';
export type { ListOptions, PlanListing, RunListing } from './report/lists.js';
export { type CensusCheck, type CheckFailure, type CheckReason, checkCensus } from './census/check.js';
export type { Report, ReportSelection } from './report/types.js';
export type { DoctorFinding, DoctorReport } from './schema/doctor.js';
export type { Entity, EntityEvent, EntityKey, EntityStatus } from './show/show.js';
export type { MigrateResult } from './schema/migrations.js';
export type * from './types.js';
