/** The gated backfill: plan, rehearse, approve, apply, rollback, freeze, unfreeze, ledger. */
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import type { ApplyProgress } from '../../backfill/apply.js';
import { NatalError } from '../../errors.js';
import { DEFAULT_LIST_LIMIT } from '../../report/lists.js';
import { count, table, when } from '../format.js';
import { parseCount, parseId } from '../parse.js';
import { progressAllowed } from '../progress.js';
import { globalOptions, runChange, runWithRegistry, waitOptions } from '../run.js';

type WithGlobals = (c: Command) => Command;

const planId = parseId('plan id');
const runId = parseId('run id');

function parseBatch(v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1 || x > 10_000_000) {
    throw new InvalidArgumentError('it takes a whole number from 1 to 10000000');
  }
  return x;
}

function parseLanes(v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1 || x > 8)
    throw new InvalidArgumentError('it takes a whole number from 1 to 8');
  return x;
}

/** A progress bar on a terminal (rows, rate, ETA); nothing when output is piped or JSON. */
function progressBar(enabled: boolean) {
  if (!enabled) return { start: () => undefined, update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format:
      'apply {bar} {percentage}% | {value}/{total} births | {rate}/s | ETA {eta_formatted} | {collection}',
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 20,
    // births and rates as the tables write them (1,234,567)
    formatValue: (v: number, _o: unknown, type: string) =>
      type === 'value' || type === 'total' ? count(v) : String(v),
  });
  const started = Date.now();
  let first = 0;
  return {
    start: (p: ApplyProgress) => {
      first = p.born;
      bar.start(Math.max(p.expected, 1), p.born, { rate: count(0), collection: '' });
    },
    update: (p: ApplyProgress) => {
      const rate = Math.round((p.born - first) / Math.max((Date.now() - started) / 1000, 0.001));
      bar.update(p.born, { rate: count(rate), collection: p.collection });
    },
    stop: () => bar.stop(),
  };
}

export function registerBackfillCommands(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('plan [tables...]')
      .description('the dry run: the exact births a backfill would create, pinned by a fingerprint')
      .option('--all', 'every governed collection (the default when no table is named)'),
  ).action((tables: string[], opts: { all?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      if (opts.all && tables.length > 0) throw new NatalError('USAGE', 'give tables or --all, not both');
      let plan;
      try {
        plan = await registry.plan(tables);
      } catch (err) {
        // Every eligible collection is complete: no plan is recorded, and that is not a failure.
        if (err instanceof NatalError && err.code === 'NOTHING_TO_BIRTH') {
          return { json: { plan_id: null, nothing_to_plan: true, message: err.message }, text: err.message };
        }
        throw err;
      }
      const nonzero = plan.collections.filter((c) => c.expected > 0);
      const lines = [
        `plan ${plan.plan_id}: ${count(plan.expected_total)} births expected in ${nonzero.length} of ${plan.collections.length} eligible collection(s); nothing was written`,
        `fingerprint ${plan.fingerprint}`,
        '',
        table(
          ['Collection', 'Expected'],
          [...nonzero, ...plan.collections.filter((c) => c.expected === 0)].map((c) => [
            c.collection,
            count(c.expected),
          ]),
        ),
      ];
      if (plan.not_eligible.length) {
        lines.push('', `not eligible (${plan.not_eligible.length}):`);
        for (const x of plan.not_eligible) {
          lines.push(`  ${x.collection}: ${x.failed.map((f) => `${f.check} (${f.fix})`).join('; ')}`);
        }
      }
      lines.push('', `next: natal rehearse ${plan.plan_id}`);
      return { json: plan, text: lines.join('\n') };
    }),
  );

  withGlobals(
    program
      .command('rehearse')
      .argument('<plan>', 'the plan id', planId)
      .description(
        'apply the plan in one transaction, check it, apply again, roll back (net births 0); review, permit and apply need it to pass',
      ),
  ).action((id: number, _o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const r = await registry.rehearse(id);
      const born = r.collections.reduce((a, c) => a + c.born, 0);
      const rerun = r.collections.reduce((a, c) => a + c.rerun_delta, 0);
      const lines = [
        `rehearsal of plan ${r.plan_id}: ${count(born)} births, rerun delta ${rerun}, rolled back, net births ${r.net_births}` +
          (r.ok ? '' : ' — FAILED'),
        '',
        table(
          ['Collection', 'Expected', 'Born', 'Rerun delta', 'Inspection failed'],
          r.collections.map((c) => [
            c.collection,
            count(c.expected),
            count(c.born),
            c.rerun_delta,
            c.inspection_failed,
          ]),
        ),
      ];
      if (r.ok)
        lines.push(
          '',
          `next: a review (natal approve ${r.plan_id} --review) and the owner's permit (--permit)`,
        );
      else
        lines.push(
          '',
          `why: ${r.why ?? 'the rehearsal did not match the plan'}`,
          `next: ${r.next ?? `fix what it found, then natal rehearse ${r.plan_id}`}`,
          `plan ${r.plan_id} cannot be reviewed, permitted or applied until a rehearsal of it passes`,
        );
      return { json: r, text: lines.join('\n'), exitCode: r.ok ? 0 : 1 };
    }),
  );

  withGlobals(
    program
      .command('approve')
      .argument('<plan>', 'the plan id', planId)
      .description("review a plan (not its author) or permit it (the collections' owner)")
      .option('--review', 'record a review')
      .option('--permit', "record the owner's permit")
      .option('--note <text>', 'a note kept with the approval'),
  ).action((id: number, opts: { review?: boolean; permit?: boolean; note?: string }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      if (opts.review === opts.permit)
        throw new NatalError('USAGE', 'give exactly one of --review or --permit');
      const a = await registry.approve(id, opts.review ? 'review' : 'permit', opts.note);
      return {
        json: a,
        text: `${a.kind} of plan ${a.plan_id} recorded by ${a.actor} (fingerprint ${a.fingerprint.slice(0, 12)}…)`,
      };
    }),
  );

  withGlobals(
    program
      .command('apply')
      .argument('<plan>', 'the plan id', planId)
      .description('apply an approved plan in committed batches; prints the run id')
      .option('--batch-size <n>', 'rows per batch', parseBatch)
      .option('--resume <run>', 'resume an interrupted run', runId)
      .option('--lanes <n>', 'sessions writing at once, on a server (default 2)', parseLanes),
  ).action((id: number, opts: { batchSize?: number; resume?: number; lanes?: number }, cmd: Command) =>
    runWithRegistry(
      cmd,
      async (registry) => {
        const bar = progressBar(progressAllowed(globalOptions(cmd)));
        let r;
        try {
          r = await registry.apply(id, {
            batchSize: opts.batchSize,
            resume: opts.resume,
            lanes: opts.lanes,
            ...waitOptions(globalOptions(cmd)),
            onStart: bar.start,
            onBatch: bar.update,
          });
        } finally {
          bar.stop();
        }
        const lines = [
          `run ${r.run_id}: ${count(r.born)} births in ${r.batches} batch(es)${r.resumed ? ' (resumed)' : ''}; ` +
            (r.confirmed
              ? 'confirmed: gap 0 in every collection'
              : `NOT confirmed: gap ${count(r.gap_after)} remains`),
          '',
          table(
            ['Collection', 'Expected', 'Born', 'Rows', 'Gap after'],
            r.collections.map((c) => [
              c.collection,
              count(c.expected),
              count(c.born),
              count(c.rows),
              count(c.gap_after),
            ]),
          ),
        ];
        for (const c of r.collections.filter((x) => x.gap_after > 0)) {
          lines.push(`orphans of ${c.collection}: ${c.orphans.join(', ')}`);
        }
        lines.push('', `undo with: natal rollback ${r.run_id}`);
        return { json: r, text: lines.join('\n'), exitCode: r.confirmed ? 0 : 1 };
      },
      { progress: false },
    ),
  );

  withGlobals(
    program
      .command('rollback')
      .argument('<run>', 'the run id', runId)
      .description('remove exactly the births one run created')
      .option('--dry-run', 'show what would be removed; change nothing'),
  ).action((id: number, opts: { dryRun?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const r = await registry.rollback(id, { dryRun: opts.dryRun });
      const lines = [
        r.dry_run
          ? `rollback of run ${r.run_id} would remove ${count(r.removed)} births (dry run: nothing changed)`
          : `rolled back run ${r.run_id}: removed ${count(r.removed)} births`,
        '',
        // (a dry run measures no gap after: its table has no such column)
        r.dry_run
          ? table(
              ['Collection', 'Born by run', 'Would remove'],
              r.collections.map((c) => [c.collection, count(c.born), count(c.removed)]),
            )
          : table(
              ['Collection', 'Born by run', 'Removed', 'Gap after'],
              r.collections.map((c) => [c.collection, count(c.born), count(c.removed), count(c.gap_after)]),
            ),
      ];
      if (r.sample.length) lines.push('', `e.g. ${r.sample.join(', ')}`);
      return { json: r, text: lines.join('\n') };
    }),
  );

  withGlobals(
    program
      .command('freeze <target>')
      .description(
        "freeze 'backfill' or a collection: plan, apply and rollback refuse it (a collection: wire, unwire and the gateway too); census and status show a frozen collection as held on purpose",
      )
      .requiredOption('--reason <text>', 'why (shown to whoever is refused)')
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action((target: string, opts: { reason?: string }, cmd: Command) =>
    runChange(cmd, async (registry) => {
      const f = await registry.freeze(target, opts.reason);
      return { json: f, text: `${f.target} frozen by ${f.frozen_by}: ${f.reason}` };
    }),
  );

  withGlobals(
    program
      .command('unfreeze <target>')
      .description("lift a freeze of 'backfill' or a collection")
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action((target: string, _o, cmd: Command) =>
    runChange(cmd, async (registry) => {
      const u = await registry.unfreeze(target);
      return {
        json: u,
        text: u.was_frozen ? `${u.target} unfrozen` : `${u.target} was not frozen; nothing changed`,
      };
    }),
  );

  withGlobals(program.command('freezes').description('what is frozen: by whom, since when and why')).action(
    (_o, cmd: Command) =>
      runWithRegistry(cmd, async (registry) => {
        const list = await registry.freezes();
        return {
          json: list,
          text: list.length
            ? table(
                ['target', 'frozen by', 'since', 'reason'],
                list.map((f) => [f.target, f.frozen_by, when(f.frozen_at), f.reason]),
              )
            : 'nothing is frozen',
        };
      }),
  );

  withGlobals(
    program
      .command('ledger')
      .description('the PLAN / REHEARSAL / APPLY / ROLLBACK steps, with actors and numbers')
      .option('--plan <plan>', 'only this plan', planId)
      .option('--run <run>', 'only this run (with --plan, rows that match both)', runId)
      .option('--limit <n>', 'only the newest N rows (still in time order)', parseCount)
      .option('--verify', 'recompute the hash chain; exit 1 naming the first row that does not match'),
  ).action((opts: { plan?: number; run?: number; limit?: number; verify?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      if (opts.verify) {
        if (opts.plan !== undefined || opts.run !== undefined || opts.limit !== undefined)
          throw new NatalError('USAGE', '--verify checks the whole chain: give it alone');
        const v = await registry.verifyLedger();
        const broken = v.first_broken;
        return {
          json: v,
          text: v.ok
            ? `the hash chain holds: ${v.rows} rows, head ${v.head}`
            : `the hash chain is broken at ${broken?.table} ${broken?.id ?? ''} (link ${broken?.link ?? '-'}): ${broken?.why}; head ${v.head}`,
          exitCode: v.ok ? 0 : 1,
        };
      }
      const rows = await registry.ledger({ plan: opts.plan, run: opts.run, limit: opts.limit });
      const text = rows.length
        ? table(
            [
              'Id',
              'Step',
              'Plan',
              'Run',
              'Collection',
              'Actor',
              'Dry run',
              'Expected',
              'Actual',
              'Rerun delta',
            ],
            rows.map((r) => [
              r.ledger_id,
              r.step,
              r.plan_id,
              r.run_id,
              r.collection ?? '(all)',
              r.actor,
              r.dry_run ? 'yes' : 'no',
              count(r.expected),
              count(r.actual),
              r.rerun_delta,
            ]),
          )
        : 'the ledger is empty';
      return { json: { ledger: rows }, text };
    }),
  );

  withGlobals(
    program
      .command('plans')
      .description('the newest plans: state, author, who reviewed and permitted, births expected and written')
      .option('--limit <n>', `how many, newest first (default ${DEFAULT_LIST_LIMIT})`, parseCount),
  ).action((opts: { limit?: number }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const plans = await registry.plans({ limit: opts.limit });
      const names = (xs: string[]) => (xs.length ? xs.join(', ') : '-');
      const text = plans.length
        ? table(
            ['Plan', 'State', 'Author', 'Reviewed by', 'Permitted by', 'Expected', 'Written', 'Created'],
            plans.map((p) => [
              p.plan_id,
              p.state,
              p.author,
              names(p.reviewed_by),
              names(p.permitted_by),
              count(p.expected),
              count(p.written),
              when(p.created_at),
            ]),
          )
        : 'no plan is recorded yet; natal plan makes one';
      return { json: plans, text };
    }),
  );

  withGlobals(
    program
      .command('runs')
      .description('the newest runs: state, actor, births expected, written and removed')
      .option('--plan <plan>', 'only the runs of this plan', planId)
      .option('--limit <n>', `how many, newest first (default ${DEFAULT_LIST_LIMIT})`, parseCount),
  ).action((opts: { plan?: number; limit?: number }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const runs = await registry.runs({ plan: opts.plan, limit: opts.limit });
      const text = runs.length
        ? table(
            ['Run', 'Plan', 'State', 'Actor', 'Expected', 'Written', 'Removed', 'Started', 'Finished'],
            runs.map((r) => [
              r.run_id,
              r.plan_id,
              r.state,
              r.actor,
              count(r.expected),
              count(r.written),
              count(r.removed),
              when(r.started_at),
              when(r.finished_at),
            ]),
          )
        : opts.plan === undefined
          ? 'no run is recorded yet; natal apply PLAN makes one'
          : `plan ${opts.plan} has no run yet; natal apply ${opts.plan} makes one`;
      return { json: runs, text };
    }),
  );
}
