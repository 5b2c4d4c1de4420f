/**
 * Help, as a user reads it: every command's help ends with examples that are real command
 * lines of this CLI (each one parses), and marks its required options.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { EXAMPLES } from '../src/cli/examples.js';
import { buildProgram } from '../src/cli/program.js';
import { natal } from './helpers/cli.js';

/** Every command a user runs (`species add`, `wire`, …). */
function leaves(): Map<string, Command> {
  const out = new Map<string, Command>();
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length) walk(sub, p);
      else out.set(p.join(' '), sub);
    }
  };
  walk(buildProgram(), []);
  return out;
}

/** A command line split as a POSIX shell splits it (single and double quotes). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(
    (m) => m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3] ?? '',
  );
}

describe('cli help', () => {
  test('every command has examples, and every example is a command line this CLI accepts', async () => {
    const commands = leaves();
    assert.deepEqual(
      [...commands.keys()].filter((k) => !EXAMPLES[k]),
      [],
      'commands without examples',
    );
    assert.deepEqual(
      Object.keys(EXAMPLES).filter((k) => !commands.has(k)),
      [],
      'examples of no command',
    );
    for (const [path, examples] of Object.entries(EXAMPLES)) {
      for (const example of examples) {
        const argv = words(example);
        assert.equal(argv[0], 'natal', example);
        assert.deepEqual(argv.slice(1, 1 + path.split(' ').length), path.split(' '), example);
        // The real program, its actions replaced: only parsing is judged.
        const program = buildProgram();
        let ran = '';
        const stub = (c: Command, p: string[]) => {
          for (const sub of c.commands) {
            const q = [...p, sub.name()];
            if (sub.commands.length) stub(sub, q);
            else sub.action(() => void (ran = q.join(' ')));
          }
        };
        stub(program, []);
        await program.parseAsync(['node', 'natal', ...argv.slice(1)]).catch((err: unknown) => {
          assert.fail(`${example}: ${(err as Error).message}`);
        });
        assert.equal(ran, path, example);
      }
    }
  });

  test('natal COMMAND --help prints the examples and marks required options', async () => {
    const wire = await natal(['wire', '--help']);
    assert.equal(wire.code, 0);
    assert.match(wire.stdout, /\nExamples:\n {2}\$ natal wire shop\.orders shop\.customers\n/);
    const add = await natal(['species', 'add', '--help']);
    assert.equal(add.code, 0);
    assert.match(add.stdout, /--prefix <prefix> +code prefix .*\(required\)/);
    assert.match(add.stdout, /--level <level> +composition level \(required\)/);
    assert.doesNotMatch(add.stdout, /--name <text> .*\(required\)/);
  });
});
