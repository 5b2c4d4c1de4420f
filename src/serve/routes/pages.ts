/** The pages that read: overview, collections, a collection, the ledger, an entity and the search box. */
import { NatalError } from '../../errors.js';
import { parseKey } from '../../show/show.js';
import { type App, type Dash, firstLine, positiveInt, statusOf } from '../dash.js';
import { collectionPage, collectionsPage } from '../pages/collections.js';
import { entityPage, searchHelp } from '../pages/entity.js';
import { ledgerPage } from '../pages/ledger.js';
import { overviewPage } from '../pages/overview.js';
import { eligibleCount } from '../../report/status.js';

export function pageRoutes(app: App, d: Dash): void {
  const { run, page, failure } = d;
  app.get('/', async (c) => {
    const s = c.get('session');
    try {
      // (the chart's births per day come with the census: a census counted in full reads
      // them in its own pass over the registry)
      const [census, collections] = await run(
        s,
        // (on a server, on the registry's connections at once; embedded, one after the other)
        async (r) =>
          r.db.kind === 'server'
            ? Promise.all([r.census([], { birthsPerDay: { days: 30, top: 6 } }), r.listCollections()])
            : ([
                await r.census([], { birthsPerDay: { days: 30, top: 6 } }),
                await r.listCollections(),
              ] as const),
      );
      return page(
        c,
        s,
        'Overview',
        '/',
        overviewPage(census, eligibleCount(census, collections), census.births_per_day ?? []),
      );
    } catch (err) {
      return failure(c, s, 'Overview', '/', err);
    }
  });

  app.get('/collections', async (c) => {
    const s = c.get('session');
    try {
      const [census, list] = await run(
        s,
        async (r) => [await r.census(), await r.listCollections()] as const,
      );
      return page(c, s, 'Collections', '/collections', collectionsPage(census, list));
    } catch (err) {
      return failure(c, s, 'Collections', '/collections', err);
    }
  });

  app.get('/collections/:name', async (c) => {
    const s = c.get('session');
    const name = c.req.param('name');
    const limit = 20;
    try {
      const view = await run(s, async (r) => {
        const [collection] = await r.listCollections([name]);
        if (!collection) throw new NatalError('COLLECTION_UNKNOWN', `${name} is not a collection`);
        const cn = collection.collection_name;
        const census = await r.census([cn]);
        const trigger = (await r.triggers()).find((t) => t.collection_name === cn);
        const hasTable = collection.has_table && collection.birth_code_strategy !== 'unclassified';
        return {
          row: census.collections[0],
          collection,
          trigger,
          orphans: hasTable ? await r.orphans(cn, limit) : [],
          phantoms: hasTable ? await r.phantoms(cn, limit) : [],
          deaths: hasTable ? await r.deaths(cn, limit) : [],
          limit,
        };
      });
      return page(c, s, view.collection.collection_name, '/collections', collectionPage(view));
    } catch (err) {
      return failure(c, s, name, '/collections', err);
    }
  });

  app.get('/ledger', async (c) => {
    const s = c.get('session');
    const q = c.req.query();
    const filter = {
      actor: q.actor || undefined,
      step: q.step || undefined,
      plan: positiveInt(q.plan || undefined),
    };
    try {
      const [rows, chain] = await run(s, async (r) => [await r.ledger(), await r.verifyLedger()] as const);
      return page(c, s, 'Ledger', '/ledger', ledgerPage(rows, filter, chain));
    } catch (err) {
      return failure(c, s, 'Ledger', '/ledger', err);
    }
  });

  // The search box: a code, or a table and its key.
  app.get('/entities', async (c) => {
    const s = c.get('session');
    const q = (c.req.query('q') ?? '').trim();
    if (q === '') return page(c, s, 'Find an entity', '', searchHelp(null));
    const space = q.search(/\s/);
    if (space < 0) return c.redirect(`/entities/${encodeURIComponent(q)}`);
    try {
      const e = await run(s, (r) => r.showRow(q.slice(0, space), parseKey(q.slice(space).trim())));
      return c.redirect(`/entities/${encodeURIComponent(e.entity_code)}`);
    } catch (err) {
      return page(c, s, 'Find an entity', '', searchHelp(firstLine(err)), statusOf(err));
    }
  });

  app.get('/entities/:code', async (c) => {
    const s = c.get('session');
    const code = c.req.param('code');
    try {
      const e = await run(s, (r) => r.show(code));
      return page(c, s, e.entity_code, '', entityPage(e));
    } catch (err) {
      return page(c, s, code, '', searchHelp(firstLine(err)), statusOf(err));
    }
  });
}
