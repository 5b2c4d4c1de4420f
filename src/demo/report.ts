/** The walk's last step: the governance report of the backfill's plan, written as Markdown. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Registry } from '../registry.js';
import { renderMarkdown } from '../report/report.js';

export interface WrittenReport {
  path: string;
  title: string;
  status: string;
}

export async function writePlanReport(
  registry: Registry,
  planId: number,
  dir: string,
): Promise<WrittenReport> {
  const report = await registry.report({ plan: planId });
  mkdirSync(dir, { recursive: true });
  const path = resolve(join(dir, `natal-demo-report-plan-${planId}.md`));
  writeFileSync(path, renderMarkdown(report));
  return { path, title: report.title, status: report.status };
}
