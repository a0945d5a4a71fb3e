import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { DiagKvmInput } from '../dag-repos/actions/diag-input';
import { KcliVmCreateInput } from '../dag-repos/actions/kcli-input';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile, type CompileContext, type DagFile } from '../dag-repos/compiler/compile';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { formatDiagnostic } from '../dag-repos/compiler/diagnostics';
import { SCRIPT_ENV_PREFIX } from '../dag-repos/compiler/script-expressions';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';

// Issue 9, item 2: a value (param, upstream output, forEach item, rollout target) never becomes shell
// code. The compiler moves every `${{ }}` of a script into an environment variable; these tests run
// hostile values through the real engine and a real bash, and check the compiler's refusals.

const registry = new ActionRegistry();

function check(text: string, others: Record<string, string> = {}): ReturnType<typeof checkDagFile> {
  const files = new Map<string, DagFile>(Object.entries(others).map(([id, other]) => [`t/${id}`, { repo: 't', path: `${id}.yaml`, commit: 'c', text: other }]));
  const context: CompileContext = { registry, resolveDag: (ref) => files.get(ref) };
  return checkDagFile({ repo: 't', path: 'dag.yaml', commit: 'c', text }, context);
}

function compiled(text: string, others?: Record<string, string>): CompiledDag {
  const result = check(text, others);
  assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
  assert.ok(result.dag);
  return result.dag;
}

function refusals(text: string): string[] {
  const result = check(text);
  assert.equal(result.dag, undefined, 'the DAG must not compile');
  return result.diagnostics.map(formatDiagnostic);
}

const withOf = (dag: CompiledDag, id: string): Record<string, unknown> => dag.tasks.find((task) => task.id === id)?.with ?? {};

/** Hostile values, each of which ran a command when it was spliced into a script. `MARK` is replaced by a file path. */
const HOSTILE = [
  "h1'; touch MARK; echo '",
  'h1"; touch MARK; echo "',
  '$(touch MARK)',
  '`touch MARK`',
  'h1\ntouch MARK',
  'h1 && touch MARK',
  '* ?',
];

describe('values in shell scripts on a real engine', () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-inject-'));
  });
  after(async () => engine.close());

  const hostile = (tag: string): string[] => HOSTILE.map((value, index) => value.replace('MARK', path.join(dir, `pwned-${tag}-${index}`)));
  const marks = (tag: string): string[] => readdirSync(dir).filter((name) => name.startsWith(`pwned-${tag}`));

  it('does not run a param spliced into an ssh command line, and the command sees the literal value', async () => {
    const dag = engine.compile(`
id: ssh-like
params:
  target: { type: string }
  out: { type: string }
tasks:
  - id: connect
    uses: shell
    with:
      script: |
        ssh() { printf '%s\\n' "$@" > \${{ params.out }}; }
        ssh \${{ params.target }} uptime
`);
    const target = "h1'; touch " + path.join(dir, 'pwned-ssh') + "; echo '";
    const out = path.join(dir, 'ssh-argv');
    const status = await engine.run(dag, { target, out });
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks));
    assert.deepEqual(marks('ssh'), []);
    assert.equal(readFileSync(out, 'utf8'), `${target}\nuptime\n`);
  });

  it('passes hostile values literally in every quoting context of a script', async () => {
    const values = hostile('ctx');
    const dag = engine.compile(`
id: contexts
params:
  values: { type: array }
  dir: { type: string }
tasks:
  - id: each
    uses: shell
    forEach: \${{ params.values }}
    with:
      script: |
        base=\${{ params.dir }}/seen-\${{ itemIndex }}
        printf '%s' \${{ item }} > "$base-plain"
        printf '%s' "value: \${{ item }}" > "$base-double"
        printf '%s' "$(printf '%s' \${{ item }})" > "$base-command"
        printf '%s' "\`printf '%s' \${{ item }}\`" > "$base-backquote"
        unset missing || true
        printf '%s' \${missing:-\${{ item }}} > "$base-default"
        cat > "$base-heredoc" <<EOF
        \${{ item }}
        EOF
        # a comment may mention \${{ item }} too
`);
    const status = await engine.run(dag, { values, dir });
    assert.equal(status.state, 'succeeded', JSON.stringify(taskOf(status, 'each').items));
    assert.deepEqual(marks('ctx'), []);
    values.forEach((value, index) => {
      const seen = (kind: string): string => readFileSync(path.join(dir, `seen-${index}-${kind}`), 'utf8');
      for (const kind of ['plain', 'command', 'backquote', 'default']) assert.equal(seen(kind), value, `${kind} context of item ${index}`);
      assert.equal(seen('double'), `value: ${value}`);
      assert.equal(seen('heredoc'), `${value}\n`);
    });
  });

  it('treats an upstream output as data in a downstream script', async () => {
    const mark = path.join(dir, 'pwned-output');
    const dag = engine.compile(`
id: outputs
tasks:
  - id: produce
    uses: shell
    with:
      env: { MARK: ${JSON.stringify(mark)} }
      script: printf 'value=$(touch %s)\\n' "$MARK" >> "$QUBINODE_OUTPUTS"
  - id: consume
    uses: shell
    needs: produce
    with:
      script: echo got \${{ tasks.produce.outputs.value }}
`);
    const status = await engine.run(dag);
    assert.deepEqual(taskStates(status), { produce: 'succeeded', consume: 'succeeded' });
    assert.equal(existsSync(mark), false);
    assert.equal(taskOf(status, 'consume').outputs?.stdout, `got $(touch ${mark})\n`);
  });

  it('gives shell arithmetic only numbers: a number computes, anything else fails the task without running it', async () => {
    const dag = engine.compile(`
id: arithmetic
params:
  n: { type: string }
tasks:
  - id: add
    uses: shell
    with:
      script: echo "sum=$(( \${{ params.n }} + 1 ))" >> "$QUBINODE_OUTPUTS"
`);
    const good = await engine.run(dag, { n: '41' });
    assert.equal(taskOf(good, 'add').outputs?.sum, 42);

    const mark = path.join(dir, 'pwned-arith');
    // Bash evaluates an array subscript inside arithmetic, running the command substitution in it.
    const bad = await engine.run(dag, { n: `a[$(touch ${mark})]` });
    assert.equal(taskOf(bad, 'add').state, 'failed');
    assert.match(taskOf(bad, 'add').error?.message ?? '', /not numeric/);
    assert.equal(existsSync(mark), false);
  });

  it('passes a rollout target name to a shell check as data', async () => {
    const mark = path.join(dir, 'pwned-target');
    const name = `hv1$(touch ${mark})\`touch ${mark}\`;touch ${mark}`;
    const dag = engine.compile(
      `
id: fleet
tasks:
  - id: roll
    uses: rollout
    with:
      dag: step
      targets: [{ name: ${JSON.stringify(name)}, queue: ${engine.taskQueue} }]
      analysis:
        checks:
          - uses: shell
            with:
              env: { OUT: ${JSON.stringify(dir)} }
              script: printf '%s' {target} > "$OUT/seen-target"
`,
      { step: 'id: step\ntasks:\n  - { id: s, uses: noop }\n' },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks));
    assert.equal(existsSync(mark), false);
    assert.equal(readFileSync(path.join(dir, 'seen-target'), 'utf8'), name);
  });
});

describe('the compiled plan of a script', () => {
  const DAG = (script: string, extra = ''): string => `
id: d
params:
  target: { type: string }
  count: { type: number, default: 1 }
tasks:
  - id: t
    uses: shell
    with:
${extra}      script: ${JSON.stringify(script)}
`;

  it('replaces each expression by a quoted variable and carries the expression in env', () => {
    const dag = compiled(DAG('ssh ${{ params.target }} uptime; echo "${{ params.target }} ${{ params.count }}"'));
    assert.deepEqual(withOf(dag, 't'), {
      script: `ssh "\${${SCRIPT_ENV_PREFIX}1}" uptime; echo "\${${SCRIPT_ENV_PREFIX}1} \${${SCRIPT_ENV_PREFIX}2}"`,
      env: { [`${SCRIPT_ENV_PREFIX}1`]: "${{ format('{0}', (params.target)) }}", [`${SCRIPT_ENV_PREFIX}2`]: "${{ format('{0}', (params.count)) }}" },
    });
  });

  it('keeps the DAG author\'s own env beside the added variables', () => {
    const dag = compiled(DAG('echo "$GREETING ${{ params.target }}"', '      env: { GREETING: hello }\n'));
    assert.deepEqual(withOf(dag, 't').env, { GREETING: 'hello', [`${SCRIPT_ENV_PREFIX}1`]: "${{ format('{0}', (params.target)) }}" });
  });

  it('rewrites the scripts of compensations and of called DAGs the same way', () => {
    const child = 'id: child\nparams:\n  host: { type: string }\ntasks:\n  - { id: c, uses: shell, with: { script: "echo ${{ params.host }}" } }\n';
    const dag = compiled(
      `
id: parent
params:
  target: { type: string }
tasks:
  - id: t
    uses: shell
    with: { script: "echo do" }
    compensate:
      uses: shell
      with: { script: "echo undo \${{ params.target }}" }
  - id: call
    uses: dag
    with: { dag: child, params: { host: "\${{ params.target }}" } }
`,
      { child },
    );
    assert.equal(dag.tasks.find((task) => task.id === 't')?.compensate?.with.script, `echo undo "\${${SCRIPT_ENV_PREFIX}1}"`);
    assert.equal(dag.children['t/child']?.tasks[0]?.with.script, `echo "\${${SCRIPT_ENV_PREFIX}1}"`);
  });

  it('turns rollout placeholders in a shell check into variables and leaves other checks alone', () => {
    const dag = compiled(
      `
id: fleet
tasks:
  - id: roll
    uses: rollout
    with:
      dag: step
      targets: [hv1]
      analysis:
        checks:
          - { uses: shell, with: { script: "ping -c1 {target} && echo {queue} {target}" } }
          - { uses: http.check, with: { url: "http://{target}:8080/health" } }
`,
      { step: 'id: step\ntasks:\n  - { id: s, uses: noop }\n' },
    );
    const checks = (withOf(dag, 'roll').analysis as { checks: { with: Record<string, unknown> }[] }).checks;
    assert.deepEqual(checks[0]?.with, {
      script: `ping -c1 "\${${SCRIPT_ENV_PREFIX}TARGET}" && echo "\${${SCRIPT_ENV_PREFIX}QUEUE}" "\${${SCRIPT_ENV_PREFIX}TARGET}"`,
      env: { [`${SCRIPT_ENV_PREFIX}TARGET`]: '{target}', [`${SCRIPT_ENV_PREFIX}QUEUE`]: '{queue}' },
    });
    assert.deepEqual(checks[1]?.with, { url: 'http://{target}:8080/health' });
  });

  it('compiles a huge script with thousands of expressions and deeply nested substitutions', () => {
    const many = Array.from({ length: 3000 }, (_, index) => `echo "${index} \${{ params.target }}"`).join('\n');
    const deep = `${'$('.repeat(5000)}echo \${{ params.target }}${')'.repeat(5000)}`;
    const dag = compiled(DAG(`${many}\n${deep}`));
    const script = String(withOf(dag, 't').script);
    assert.equal(script.includes('${{'), false);
    assert.deepEqual(Object.keys(withOf(dag, 't').env as object), [`${SCRIPT_ENV_PREFIX}1`]);
  });
});

describe('scripts the compiler refuses, with the place and the safe form', () => {
  it('refuses an expression inside single quotes', () => {
    const [problem, ...rest] = refusals(`
id: d
params:
  target: { type: string }
tasks:
  - id: t
    uses: shell
    with:
      script: |
        echo hello
        ssh host 'rm -rf /srv/\${{ params.target }}'
`);
    assert.deepEqual(rest, []);
    assert.equal(
      problem,
      `dag.yaml:11:31 tasks.t.with.script: \${{ params.target }} is inside single quotes, where the shell cannot read a variable; ` +
        `close the quotes around it ('…'"$TARGET"'…') and pass it through env (env: {TARGET: "\${{ params.target }}"}) and write "$TARGET" in the script`,
    );
  });

  it('refuses an expression in a here-document whose delimiter is quoted', () => {
    const [problem] = refusals('id: d\nparams: {target: {type: string}}\ntasks:\n  - id: t\n    uses: shell\n    with:\n      script: |\n        cat <<"EOF"\n        ${{ params.target }}\n        EOF\n');
    assert.match(problem ?? '', /^dag\.yaml:9:9 tasks\.t\.with\.script: .*here-document with a quoted delimiter.*env: \{TARGET: "\$\{\{ params\.target \}\}"\}/);
  });

  it('refuses expressions after "$" or a backslash, where they would name or escape code', () => {
    const problems = refusals('id: d\nparams: {v: {type: string}}\ntasks:\n  - { id: t, uses: shell, with: { script: "echo $${{ params.v }} \\\\${{ params.v }}" } }\n');
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /follows "\$": a script cannot name a variable by an expression/);
    assert.match(problems[1] ?? '', /follows a backslash/);
  });

  it('refuses expressions in a script run by a shell that does not read ${NAME}', () => {
    const [problem] = refusals('id: d\nparams: {v: {type: string}}\ntasks:\n  - { id: t, uses: shell, with: { shell: /usr/bin/python3, script: "print(${{ params.v }})" } }\n');
    assert.match(problem ?? '', /tasks\.t\.with\.script: expressions in a script need a POSIX shell .* not "\/usr\/bin\/python3"; pass the value through env instead \(env: \{V: "\$\{\{ params\.v \}\}"\}\)/);
  });

  it('refuses a shell chosen by an expression', () => {
    const [problem] = refusals('id: d\nparams: {sh: {type: string}}\ntasks:\n  - { id: t, uses: shell, with: { shell: "${{ params.sh }}", script: "echo hi" } }\n');
    assert.match(problem ?? '', /tasks\.t\.with\.shell: the shell must be written literally/);
  });

  it('refuses a DAG whose env uses the reserved prefix, pointing at the key', () => {
    const [problem] = refusals(`id: d\ntasks:\n  - id: t\n    uses: shell\n    with:\n      env: { ${SCRIPT_ENV_PREFIX}1: "rm -rf /" }\n      script: echo "$${SCRIPT_ENV_PREFIX}1"\n`);
    assert.match(problem ?? '', new RegExp(`^dag\\.yaml:6:14 tasks\\.t\\.with\\.env\\.${SCRIPT_ENV_PREFIX}1: environment variable names starting with ${SCRIPT_ENV_PREFIX} are reserved`));
  });

  it('refuses an expression in the script argument of bash -c but accepts it as a positional argument', () => {
    const [problem] = refusals('id: d\nparams: {v: {type: string}}\ntasks:\n  - { id: t, uses: shell, with: { command: [bash, -ec, "echo ${{ params.v }}"] } }\n');
    assert.match(problem ?? '', /tasks\.t\.with\.command\[2\]: the argument after bash -ec is shell code.*use script: instead/);
    const dag = compiled('id: d\nparams: {v: {type: string}}\ntasks:\n  - { id: t, uses: shell, with: { command: [bash, -c, "echo \\"$1\\"", sh, "${{ params.v }}"] } }\n');
    assert.deepEqual(withOf(dag, 't').command, ['bash', '-c', 'echo "$1"', 'sh', '${{ params.v }}']);
  });

  it('refuses a rollout placeholder inside single quotes of a check script', () => {
    const result = check(
      "id: f\ntasks:\n  - id: roll\n    uses: rollout\n    with:\n      dag: step\n      targets: [hv1]\n      analysis:\n        checks:\n          - { uses: shell, with: { script: \"ssh h 'ping {target}'\" } }\n",
      { step: 'id: step\ntasks:\n  - { id: s, uses: noop }\n' },
    );
    assert.match(result.diagnostics.map(formatDiagnostic).join('\n'), /tasks\.roll\.with\.analysis\.checks\[0\]\.with\.script: \{target\} is inside single quotes.*env: \{TARGET: "\{target\}"\}/);
  });
});

describe('the example DAGs', () => {
  it('never put an expression inside a shell script', () => {
    const dir = path.join(__dirname, '..', 'dag-repos', 'examples', 'dags');
    const found: string[] = [];
    const visit = (value: unknown, where: string): void => {
      if (Array.isArray(value)) value.forEach((item, index) => visit(item, `${where}[${index}]`));
      else if (value !== null && typeof value === 'object') {
        const record = value as Record<string, unknown>;
        if (record.uses === 'shell' && typeof (record.with as { script?: unknown } | undefined)?.script === 'string' && String((record.with as { script: string }).script).includes('${{')) found.push(where);
        for (const [key, item] of Object.entries(record)) visit(item, `${where}.${key}`);
      }
    };
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) visit(parse(readFileSync(path.join(dir, file), 'utf8')), file);
    assert.deepEqual(found, []);
  });
});

describe('other values that could name a program', () => {
  it('refuses a libvirt URI for diag.kvm that runs a command or hands ssh an option', () => {
    for (const uri of ['qemu+ext:///system?command=/tmp/x', 'qemu+ssh://host/system?netcat=/tmp/x', 'qemu+ssh://-oProxyCommand=touch%20x/system', 'qemu:///system\nx'])
      assert.equal(DiagKvmInput.safeParse({ libvirtUri: uri }).success, false, uri);
    for (const uri of ['qemu:///system', 'qemu+ssh://root@hv1/system', 'qemu+tls://hv1.example.com/system?no_verify=1', 'test:///default'])
      assert.equal(DiagKvmInput.safeParse({ libvirtUri: uri }).success, true, uri);
  });
});

describe('kcli inputs that kcli would render as Jinja on the worker', () => {
  it('refuses Jinja in cloud-init commands, files read by origin and scripts, whether written or rendered from a value', () => {
    const ssti = "{{ cycler.__init__.__globals__.os.popen('touch /tmp/x').read() }}";
    const refused = [
      { cloudInit: { cmds: [`echo ${ssti}`] } },
      { cloudInit: { cmds: ['{% if true %}id{% endif %}'] } },
      { cloudInit: { files: [{ path: '/etc/motd', origin: '/etc/shadow' }] } },
      { params: { scripts: ['setup.sh'] } },
      { params: { cmds: [ssti] } },
    ];
    for (const extra of refused) assert.equal(KcliVmCreateInput.safeParse({ name: 'vm1', ...extra }).success, false, JSON.stringify(extra));
    for (const extra of [{ cloudInit: { cmds: ['echo hello'], files: [{ path: '/etc/motd', content: 'hi' }] } }, { params: { virttype: 'qemu' } }])
      assert.equal(KcliVmCreateInput.safeParse({ name: 'vm1', ...extra }).success, true, JSON.stringify(extra));
  });

  it('takes only SSH public keys as VM keys: kcli would read a key that names a file on the worker from that file', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFq0cFrFJyU0YZ6G0l4cSg5s0R3d3m9eA5a1mXr0bQ2x ops@example';
    for (const keys of [[key], ['ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=']]) {
      assert.equal(KcliVmCreateInput.safeParse({ name: 'vm1', cloudInit: { keys } }).success, true, JSON.stringify(keys));
      assert.equal(KcliVmCreateInput.safeParse({ name: 'vm1', params: { keys } }).success, true, JSON.stringify(keys));
    }
    for (const keys of [['/root/.ssh/id_ed25519'], ['~/.ssh/authorized_keys'], [`${key}\nssh-rsa AAAA other`], [42], '/etc/shadow', ['ssh-ed25519']]) {
      for (const where of [{ cloudInit: { keys } }, { params: { keys } }]) {
        const parsed = KcliVmCreateInput.safeParse({ name: 'vm1', ...where });
        assert.equal(parsed.success, false, JSON.stringify(where));
        // A list of text is judged as keys; anything else is already the wrong type.
        if (Array.isArray(keys) && keys.every((entry) => typeof entry === 'string')) assert.match(JSON.stringify(parsed.error?.issues ?? []), /is not an SSH public key/);
      }
    }
  });

  it('compiles a DAG that passes a value into a cloud-init command, and refuses one that writes Jinja there', () => {
    const dag = (cmd: string): string => `id: d\nparams: {m: {type: string}}\ntasks:\n  - id: vm\n    uses: kcli.vm.create\n    with: { name: vm1, cloudInit: { cmds: [${JSON.stringify(cmd)}] } }\n`;
    assert.deepEqual(check(dag('echo ${{ params.m }}')).diagnostics.map(formatDiagnostic), []);
    assert.match(check(dag('echo {{ config }}')).diagnostics.map(formatDiagnostic).join('\n'), /tasks\.vm\.with\.cloudInit: kcli would run "echo \{\{ config \}\}" as a Jinja template/);
  });
});
