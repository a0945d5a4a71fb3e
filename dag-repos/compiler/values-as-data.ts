// Pure: part of the compiler, which runs inside workflows.
import { hasTemplate, isPlainObject } from '../expressions';
import { protectScripts, type ProtectedInput, type ScriptProblem } from './script-expressions';

/** What Ansible accepts as a top-level variable name. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An action call's `with` as it must be compiled so that values (params, outputs, payloads) stay
 * data: expressions in shell scripts become environment variables, and Ansible settings that
 * Ansible would run as commands are written literally. Problems are relative to `with`.
 */
export function valuesAsData(action: string, input: Record<string, unknown>): ProtectedInput {
  if (action === 'ansible.playbook') return { with: input, problems: ansibleProblems(input) };
  return protectScripts(action, input);
}

// Ansible runs some variables and settings as commands or command options (ansible_python_interpreter,
// ansible_ssh_common_args, ansible_become_exe, ANSIBLE_SSH_ARGS, …), so those come from the DAG text
// or the inventory, never from a value. Other extra vars are written `!unsafe` by the activity.
function ansibleProblems(input: Record<string, unknown>): ScriptProblem[] {
  const problems: ScriptProblem[] = [];
  const { extraVars, env } = input;
  if (typeof extraVars === 'string' && hasTemplate(extraVars)) {
    problems.push({
      path: ['extraVars'],
      message: 'extraVars must be a mapping written in the DAG, so a value cannot choose variable names (such as ansible_ssh_common_args); name each variable: extraVars: {vm_name: "${{ params.name }}"}',
    });
  }
  if (isPlainObject(extraVars)) {
    for (const [key, value] of Object.entries(extraVars)) {
      if (!VARIABLE_NAME.test(key)) {
        problems.push({ path: ['extraVars', key], message: `"${key}" is not an Ansible variable name (letters, digits and "_", not starting with a digit)`, atKey: true });
      } else if (key.toLowerCase().startsWith('ansible_') && holdsTemplate(value)) {
        problems.push({ path: ['extraVars', key], message: `${key} is an Ansible connection or behaviour variable, which Ansible may run as a command; write it literally or set it per host in the inventory` });
      }
    }
  }
  if (isPlainObject(env)) {
    for (const [key, value] of Object.entries(env)) {
      if (key.toUpperCase().startsWith('ANSIBLE_') && holdsTemplate(value)) {
        problems.push({ path: ['env', key], message: `${key} is an Ansible setting, which can name programs and command options; write it literally` });
      }
    }
  }
  return problems;
}

function holdsTemplate(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return hasTemplate(value);
  if (depth > 64) return true;
  if (Array.isArray(value)) return value.some((item) => holdsTemplate(item, depth + 1));
  if (isPlainObject(value)) return Object.values(value).some((item) => holdsTemplate(item, depth + 1));
  return false;
}
