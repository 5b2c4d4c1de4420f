/** Runs the built `natal` executable as a subprocess, the way a user does. */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATAL_BIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function natal(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // What the CLI leaves in the temp directory (the demo's database and report) goes to the
    // run's scratch directory, which the runner removes.
    const scratch = process.env.NATAL_TEST_TMP ? { TMPDIR: process.env.NATAL_TEST_TMP } : {};
    const env: NodeJS.ProcessEnv = { ...process.env, ...scratch, ...options.env };
    delete env.NATAL_DATABASE_URL;
    if (options.env?.NATAL_DATABASE_URL) env.NATAL_DATABASE_URL = options.env.NATAL_DATABASE_URL;
    const child = spawn(process.execPath, [NATAL_BIN, ...args], {
      cwd: options.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
