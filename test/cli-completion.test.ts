/**
 * `natal completion bash|zsh|fish`, made from the program: bash's is run by a real bash,
 * completing what a user types; zsh's is bash's through bashcompinit; fish's names every
 * command and flag. (zsh and fish are not installed here: their scripts are checked for
 * what they hold, not run.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { natal } from './helpers/cli.js';

const run = promisify(execFile);

/** What bash completes for `line` (the last word is the one being completed). */
async function complete(script: string, line: string): Promise<string[]> {
  const { stdout } = await run('bash', [
    '-c',
    `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=(""); ` +
      'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _natal; printf "%s\\n" "${COMPREPLY[@]}"',
    'complete',
    script,
    line,
  ]);
  return stdout.split('\n').filter(Boolean).sort();
}

describe('cli completion', () => {
  test('bash completes commands, subcommands and each command’s own flags', async () => {
    const r = await natal(['completion', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    const script = join(process.env.NATAL_TEST_TMP ?? '/tmp', `natal-completion-${process.pid}.bash`);
    writeFileSync(script, r.stdout);
    assert.deepEqual(await complete(script, 'natal wi'), ['wire']);
    assert.deepEqual(await complete(script, 'natal species a'), ['add']);
    assert.deepEqual(await complete(script, 'natal wire --d'), ['--data-dir', '--db', '--dry-run']);
    assert.deepEqual(await complete(script, 'natal collection set shop.orders --o'), ['--owner']);
    assert.deepEqual(await complete(script, 'natal census --re'), ['--recount']);
    assert.ok((await complete(script, 'natal ')).includes('completion'));
    assert.deepEqual(await complete(script, 'natal access '), ['--help', 'grant', 'list', 'revoke']);
  });

  test('zsh uses the bash function through bashcompinit; fish names every command and flag', async () => {
    const bash = (await natal(['completion', 'bash'])).stdout;
    const zsh = await natal(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /^# natal completion for zsh.*\nautoload -U \+X bashcompinit && bashcompinit\n/);
    assert.ok(zsh.stdout.endsWith(bash));
    const fish = await natal(['completion', 'fish']);
    assert.equal(fish.code, 0);
    assert.match(fish.stdout, /\ncomplete -c natal -n '__fish_use_subcommand' -a wire\n/);
    assert.match(
      fish.stdout,
      /\ncomplete -c natal -n '__fish_seen_subcommand_from species; and not __fish_seen_subcommand_from add list' -a add\n/,
    );
    assert.match(
      fish.stdout,
      /\ncomplete -c natal -n '__fish_seen_subcommand_from wire' -l dry-run -d 'say what would/,
    );
  });

  test('another shell is a usage error', async () => {
    const r = await natal(['completion', 'tcsh']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give bash, zsh or fish/);
  });
});
