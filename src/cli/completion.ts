/**
 * `natal completion bash|zsh|fish`: a completion script made from the program itself
 * (commands, subcommands and each one's flags), so it never lags behind the CLI.
 *   bash: eval "$(natal completion bash)"   (or save it in /etc/bash_completion.d)
 *   zsh:  eval "$(natal completion zsh)"    (the bash function, through bashcompinit)
 *   fish: natal completion fish > ~/.config/fish/completions/natal.fish
 */
import type { Command } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  path: string[];
  subcommands: string[];
  flags: { long: string; short?: string; description: string }[];
}

function nodes(program: Command): Node[] {
  const out: Node[] = [];
  const walk = (c: Command, path: string[]) => {
    out.push({
      path,
      subcommands: c.commands.map((s) => s.name()),
      flags: c.options
        .filter((o) => o.long)
        .map((o) => ({
          long: o.long as string,
          ...(o.short ? { short: o.short } : {}),
          description: o.description,
        })),
    });
    for (const s of c.commands) walk(s, [...path, s.name()]);
  };
  walk(program, []);
  return out;
}

function bash(program: Command): string {
  const cases = nodes(program)
    .map((n) => {
      const words = [...n.subcommands, ...n.flags.map((f) => f.long), '--help'].join(' ');
      return `    "${n.path.join(' ')}") words="${words}" ;;`;
    })
    .join('\n');
  const groups = nodes(program)
    .filter((n) => n.subcommands.length > 0)
    .map((n) => `"${n.path.join(' ')}"`)
    .join(' ');
  return `# natal completion for bash (natal completion bash)
_natal() {
  local cur path i w words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    for g in ${groups}; do
      if [[ "$g" == "$path" ]]; then
        case " $(_natal_words "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac
        break
      fi
    done
  done
  COMPREPLY=($(compgen -W "$(_natal_words "$path")" -- "$cur"))
}
_natal_words() {
  local words
  case "$1" in
${cases}
  esac
  echo "$words"
}
complete -o default -F _natal natal
`;
}

function zsh(program: Command): string {
  return `# natal completion for zsh (natal completion zsh): the bash completion, through bashcompinit
autoload -U +X bashcompinit && bashcompinit
${bash(program)}`;
}

function fish(program: Command): string {
  const all = nodes(program);
  const lines = ['# natal completion for fish (natal completion fish)', 'complete -c natal -f'];
  const quote = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  for (const n of all) {
    // The line names exactly this path: its words seen, and none of its subcommands yet.
    const seen = n.path.map((w) => `__fish_seen_subcommand_from ${w}`);
    const condition =
      n.path.length === 0
        ? '__fish_use_subcommand'
        : [
            ...seen,
            ...(n.subcommands.length ? [`not __fish_seen_subcommand_from ${n.subcommands.join(' ')}`] : []),
          ].join('; and ');
    for (const s of n.subcommands) lines.push(`complete -c natal -n ${quote(condition)} -a ${s}`);
    if (n.path.length === 0 && n.subcommands.length) continue;
    for (const f of n.flags) {
      const short = f.short ? ` -s ${f.short.replace(/^-/, '')}` : '';
      lines.push(
        `complete -c natal -n ${quote(condition)} -l ${f.long.replace(/^--/, '')}${short} -d ${quote(f.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  return shell === 'bash' ? bash(program) : shell === 'zsh' ? zsh(program) : fish(program);
}
