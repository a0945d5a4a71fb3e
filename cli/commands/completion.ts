import type { Command } from 'commander';
import { CliError } from '../context';

/** One command of the program as completion sees it: its path of names, subcommands and options. */
interface CompletionNode {
  path: string;
  words: { word: string; description: string }[];
  /** Options that take a value: after one of them the next word is that value, not a command. */
  valued: string[];
}

// Names and flags become shell words in the script: anything else is left out rather than quoted into code.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const SAFE_FLAG = /^--?[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

function nodesOf(command: Command, prefix: string[] = []): CompletionNode[] {
  const subcommands = command.commands.filter((sub) => SAFE_NAME.test(sub.name()));
  const flags = command.options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => flag !== undefined && SAFE_FLAG.test(flag)).map((flag) => ({ word: flag, description: option.description, valued: option.required || option.optional })));
  const node: CompletionNode = {
    path: prefix.join(' '),
    words: [
      ...subcommands.map((sub) => ({ word: sub.name(), description: sub.description() })),
      ...flags.map(({ word, description }) => ({ word, description })),
      // Commander adds --help to every command without listing it among the options.
      { word: '--help', description: 'display help for command' },
    ].filter((entry, index, all) => all.findIndex((other) => other.word === entry.word) === index),
    valued: flags.filter((flag) => flag.valued).map((flag) => flag.word),
  };
  return [node, ...subcommands.flatMap((sub) => nodesOf(sub, [...prefix, sub.name()]))];
}

/** A single-quoted shell word: safe for any text. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * The bash script: `_qubinode_words PATH` prints the words after a command path (status 1 for no such
 * command), `_qubinode` walks the words typed so far to find the path and completes the current one.
 */
export function bashCompletion(program: Command): string {
  const nodes = nodesOf(program);
  const cases = nodes.map((node) => `    ${quoted(node.path)}) words=${quoted(node.words.map((entry) => entry.word).join(' '))}; valued=${quoted(node.valued.join(' '))} ;;`);
  return `# bash completion for ${program.name()}, generated from its commands by \`${program.name()} completion bash\`.
# Load it with: source <(${program.name()} completion bash)

_qubinode_words() {
  local words valued
  case "$1" in
${cases.join('\n')}
    *) return 1 ;;
  esac
  if [[ "$2" == valued ]]; then printf '%s\\n' "$valued"; else printf '%s\\n' "$words"; fi
}

_qubinode() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" word next i skip=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    if [[ "$word" == -* ]]; then
      [[ " $(_qubinode_words "$cmdpath" valued) " == *" $word "* ]] && skip=1
      continue
    fi
    next="\${cmdpath:+$cmdpath }$word"
    _qubinode_words "$next" >/dev/null && cmdpath="$next"
  done
  COMPREPLY=()
  # The value of an option: left to the shell's default (file names).
  [[ -n "$skip" ]] && return 0
  local IFS=$' \\t\\n'
  COMPREPLY=($(compgen -W "$(_qubinode_words "$cmdpath")" -- "$cur"))
}

complete -o default -F _qubinode ${program.name()}
`;
}

/** The zsh script: the same walk, offering each word with its description. */
export function zshCompletion(program: Command): string {
  const nodes = nodesOf(program);
  const cases = nodes.map((node) => {
    const described = node.words.map((entry) => quoted(`${entry.word.replace(/:/g, '\\:')}:${oneLine(entry.description)}`));
    return `    ${quoted(node.path)}) candidates=(${described.join(' ')}); valued=(${node.valued.map(quoted).join(' ')}) ;;`;
  });
  return `#compdef ${program.name()}
# zsh completion for ${program.name()}, generated from its commands by \`${program.name()} completion zsh\`.
# Load it with: source <(${program.name()} completion zsh), or save it as _${program.name()} in a directory of $fpath.

_qubinode_node() {
  case "$1" in
${cases.join('\n')}
    *) return 1 ;;
  esac
  return 0
}

_qubinode() {
  local -a candidates valued
  local cmdpath="" word next skip="" i
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    if [[ "$word" == -* ]]; then
      _qubinode_node "$cmdpath" && (( \${valued[(Ie)$word]} )) && skip=1
      continue
    fi
    next="\${cmdpath:+$cmdpath }$word"
    _qubinode_node "$next" && cmdpath="$next"
  done
  [[ -n "$skip" ]] && { _files; return; }
  _qubinode_node "$cmdpath" || return 1
  _describe -t commands '${program.name()}' candidates
}

if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _qubinode "$@"
else
  compdef _qubinode ${program.name()}
fi
`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script for bash or zsh, generated from the commands (source <(qubinode completion bash))')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
      else throw new CliError(`completion: shell must be bash or zsh, got "${shell.slice(0, 40)}"`, 2);
    });
}
