/** `npm run bench -- NAME [--scale S]`: runs one benchmark (or `all`) and prints its ratios. */
import { type Figure, report } from './harness.js';
import { benchTriggers } from './triggers.js';

const BENCHMARKS: Record<string, () => Promise<Figure[]>> = {
  triggers: benchTriggers,
};

const name = process.argv[2];
if (!name || (name !== 'all' && !BENCHMARKS[name])) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}|all> [--scale S]`);
  process.exit(2);
}
let missed = 0;
for (const [key, bench] of Object.entries(BENCHMARKS)) {
  if (name !== 'all' && key !== name) continue;
  console.log(`== ${key}`);
  for (const figure of await bench()) {
    report(figure);
    if (!figure.ok) missed++;
  }
}
process.exitCode = missed === 0 ? 0 : 1;
