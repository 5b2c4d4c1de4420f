import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A TypeScript project that uses natal compiles against its types without @types/node. */
test('natal’s public types compile in a project without @types/node', () => {
  const dir = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? tmpdir(), 'consumer-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'natal'), 'dir');
    writeFileSync(
      join(dir, 'use.ts'),
      `import { Registry } from 'natal';
const registry = await Registry.open({ env: { NATAL_DATABASE_URL: 'postgres://app@localhost/app' } });
const birth = await registry.create('dot_domain_rules', { name: 'new rule' }, 'my-tool');
const code: string = birth.entity_code;
export { code };
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022'],
          noEmit: true,
          types: [],
        },
        files: ['use.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
