import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { bashCompletion, zshCompletion } from '../cli/commands/completion';
import { qubinode } from './support/cli';

const hasZsh = spawnSync('zsh', ['-c', 'true']).status === 0;

/** What bash's completion offers after `words` (the last one is the word being completed). */
function bashComplete(script: string, words: readonly string[]): string[] {
  const program = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _qubinode; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['-c', program, 'bash', script, ...words], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** What zsh's completion offers after `words`, with `_describe` and `_files` stood in for (no line editor in a test). */
function zshComplete(script: string, words: readonly string[]): string[] {
  const program = `compdef() { :; }; _describe() { print -l -- "\${(@P)\${@[-1]}}"; }; _files() { print -- '(files)'; }; source "$1"; shift; words=("$@"); CURRENT=$#; _qubinode`;
  const out = execFileSync('zsh', ['-f', '-c', program, 'zsh', script, ...words], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe('qubinode completion', () => {
  let dir: string;
  let bashScript: string;
  let zshScript: string;
  let topCommands: string[];
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-completion-'));
    const bash = await qubinode(['completion', 'bash']);
    const zsh = await qubinode(['completion', 'zsh']);
    assert.equal(bash.code, 0, bash.stderr);
    assert.equal(zsh.code, 0, zsh.stderr);
    bashScript = path.join(dir, 'qubinode.bash');
    zshScript = path.join(dir, '_qubinode');
    writeFileSync(bashScript, bash.stdout);
    writeFileSync(zshScript, zsh.stdout);
    // The commands `qubinode --help` lists, to check the scripts against.
    const help = await qubinode(['--help']);
    topCommands = [...help.stdout.split('Commands:')[1]!.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('completes every command qubinode --help lists, so the script cannot drift from the program', () => {
    assert.ok(topCommands.length > 20, `commands found in --help: ${topCommands.join(' ')}`);
    const offered = bashComplete(bashScript, ['qubinode', '']);
    for (const name of topCommands) assert.ok(offered.includes(name), `bash completion lacks "${name}"`);
  });

  it('completes subcommands and the options of the command typed so far in bash', () => {
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'd']), ['dag', 'doctor', 'diag']);
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'dag', 'l']), ['list']);
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'token', 'issue', '--e']), ['--expires']);
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'runs', '--l']), ['--limit']);
    // Options before the command and arguments after it do not lose the command path.
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'status', 'dag/examples/hello/x', '--j']), ['--json']);
  });

  it('offers nothing of its own for the value of an option, leaving file names to the shell', () => {
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'runs', '--limit', '']), []);
    // The value given is not taken for a subcommand.
    assert.deepEqual(bashComplete(bashScript, ['qubinode', 'run', '--key', 'dag', '--w']), ['--wait']);
  });

  it('prints a zsh script that parses and offers subcommands with their descriptions', { skip: hasZsh ? false : 'zsh is not installed (apt-get install zsh)' }, () => {
    execFileSync('zsh', ['-n', zshScript]);
    const offered = zshComplete(zshScript, ['qubinode', 'dag', '']);
    assert.ok(offered.includes('list:List the DAG catalog'), offered.join('\n'));
    assert.ok(offered.some((line) => line.startsWith('validate:')));
    assert.deepEqual(zshComplete(zshScript, ['qubinode', 'runs', '--limit', '']), ['(files)']);
    assert.ok(zshComplete(zshScript, ['qubinode', '']).includes('watch:Follow a run already going: a live task table until it ends, then exit with its outcome'));
  });

  it('refuses a shell other than bash or zsh with exit code 2', async () => {
    for (const shell of ['fish', 'bash;rm -rf ~', 'x'.repeat(10_000)]) {
      const result = await qubinode(['completion', shell]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^qubinode: completion: shell must be bash or zsh, got "[^\n]{0,40}"\n$/);
    }
  });

  it('leaves out command names and flags that are not plain words, and quotes descriptions, so no text becomes shell code', () => {
    const canary = path.join(dir, 'canary');
    const program = new Command('qubinode');
    program.command(`bad$(touch ${canary})`).description('never offered');
    program
      .command('good')
      .description(`it's "quoted" $(touch ${canary}) \`touch ${canary}\``)
      .option('--fine <x>', `a 'flag' $(touch ${canary})`);
    const bash = path.join(dir, 'hostile.bash');
    const zsh = path.join(dir, '_hostile');
    writeFileSync(bash, bashCompletion(program));
    writeFileSync(zsh, zshCompletion(program));
    assert.doesNotMatch(bashCompletion(program), /bad\$/);
    assert.deepEqual(bashComplete(bash, ['qubinode', '']), ['good', '--help']);
    assert.deepEqual(bashComplete(bash, ['qubinode', 'good', '--f']), ['--fine']);
    if (hasZsh) assert.ok(zshComplete(zsh, ['qubinode', '']).includes(`good:it's "quoted" $(touch ${canary}) \`touch ${canary}\``));
    assert.equal(existsSync(canary), false, 'nothing in a name or description ran');
  });
});
