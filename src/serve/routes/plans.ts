/**
 * Plans and runs: the list; a plan's page with its gate (Review and Permit, asked of the SQL
 * gate as the logged-in role), its runs and their progress; embedded, its Apply.
 */
import { NatalError } from '../../errors.js';
import { type App, type Dash, firstLine, positiveInt, postedToPlan, statusOf } from '../dash.js';
import { planPage, plansPage } from '../pages/plans.js';
import type { Session } from '../sessions.js';

export function planRoutes(app: App, d: Dash): void {
  const { embedded, own, run, page, failure, viewerOf } = d;
  /** Embedded: the applies this process is running, by plan, and how the last one of a plan failed. */
  const applying = new Map<number, Promise<void>>();
  const lastApplyError = new Map<number, string>();

  app.get('/plans', async (c) => {
    const s = c.get('session');
    try {
      const [plans, runs] = await run(
        s,
        async (r) => [await r.plans({ limit: 100 }), await r.runs({ limit: 100 })] as const,
      );
      return page(c, s, 'Plans and runs', '/plans', plansPage(plans, runs));
    } catch (err) {
      return failure(c, s, 'Plans and runs', '/plans', err);
    }
  });

  const planView = (s: Session, id: number, flash?: { ok: boolean; text: string }) =>
    run(s, async (r) => {
      const report = await r.report({ plan: id });
      const runs = await r.runs({ plan: id, limit: 100 });
      const rollbacks = [];
      for (const x of runs.filter((x) => x.run_status === 'completed' && x.written > x.removed)) {
        try {
          rollbacks.push({ run_id: x.run_id, result: await r.rollback(x.run_id, { dryRun: true }) });
        } catch (err) {
          rollbacks.push({ run_id: x.run_id, refused: firstLine(err) });
        }
      }
      return {
        report,
        runs,
        review: await r.approvalCheck(id, 'review'),
        permit: await r.approvalCheck(id, 'permit'),
        rollbacks,
        // embedded, the page holds the database: an apply runs here (on a server, from the CLI)
        canApply: embedded && report.plans[0]?.state === 'APPLY_READY' && !applying.has(id),
        ...(flash ? { flash } : {}),
      };
    });

  app.get('/plans/:id', async (c) => {
    const s = c.get('session');
    const id = positiveInt(c.req.param('id'));
    const title = `Plan ${c.req.param('id')}`;
    if (id === undefined)
      return failure(c, s, title, '/plans', new NatalError('USAGE', 'a plan is a number'));
    const done = c.req.query('done');
    try {
      const stopped = lastApplyError.get(id);
      const flash =
        done === 'review' || done === 'permit'
          ? { ok: true, text: `${done === 'review' ? 'Reviewed' : 'Permitted'} by ${s.login}.` }
          : stopped
            ? { ok: false, text: `The apply stopped: ${stopped}` }
            : undefined;
      return page(c, s, title, '/plans', planPage(await planView(s, id, flash), viewerOf(s)));
    } catch (err) {
      return failure(c, s, title, '/plans', err);
    }
  });

  for (const kind of ['review', 'permit'] as const) {
    app.post(`/plans/:id/${kind}`, async (c) => {
      const form = await postedToPlan(c, d);
      if (form instanceof Response) return form;
      const { s, id, title, body } = form;
      const note = String(body.note ?? '').trim();
      try {
        await run(s, (r) => r.approve(id, kind, note === '' ? undefined : note));
        return c.redirect(`/plans/${id}?done=${kind}`);
      } catch (err) {
        try {
          return page(
            c,
            s,
            title,
            '/plans',
            planPage(await planView(s, id, { ok: false, text: firstLine(err) }), viewerOf(s)),
            statusOf(err),
          );
        } catch {
          return failure(c, s, title, '/plans', err);
        }
      }
    });
  }

  // Embedded only: the apply of a plan, run by this process in the background (the page's
  // own queries take their turns between its batches) and followed on the plan's page.
  app.post('/plans/:id/apply', async (c) => {
    const form = await postedToPlan(c, d);
    if (form instanceof Response) return form;
    const { s, id, title, body } = form;
    if (!embedded) {
      return failure(
        c,
        s,
        title,
        '/plans',
        new NatalError('USAGE', `on a server, apply from the CLI (natal apply ${id}); this page follows it`),
      );
    }
    const batch = String(body.batch_size ?? '').trim();
    const batchSize = batch === '' ? undefined : positiveInt(batch);
    if (batch !== '' && (batchSize === undefined || batchSize < 1 || batchSize > 10_000_000)) {
      return failure(
        c,
        s,
        title,
        '/plans',
        new NatalError('USAGE', 'rows per batch is a whole number from 1 to 10000000'),
      );
    }
    if (applying.has(id)) return c.redirect(`/plans/${id}`);
    lastApplyError.delete(id);
    // Back to the page once the run has begun (or been refused), so that it shows the run.
    const started = await new Promise<{ ok: boolean; text: string }>((resolve) => {
      const run = own
        .apply(id, { batchSize, onStart: (p) => resolve({ ok: true, text: `Run ${p.run_id} started.` }) })
        .then((r) => {
          resolve({ ok: true, text: `Run ${r.run_id} done.` });
        })
        .catch((err: unknown) => {
          lastApplyError.set(id, firstLine(err));
          resolve({ ok: false, text: firstLine(err) });
        })
        .finally(() => applying.delete(id));
      applying.set(id, run);
    });
    if (!started.ok) {
      return page(c, s, title, '/plans', planPage(await planView(s, id, started), viewerOf(s)), 409);
    }
    return c.redirect(`/plans/${id}`);
  });
}
