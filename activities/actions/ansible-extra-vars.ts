import { writeFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import { Document, isMap, isScalar, visit } from 'yaml';
import { isPlainObject } from '../../dag-repos/expressions';
import { INVALID_ACTION_INPUT } from './action-input';

// Ansible renders every string it is given as a Jinja template, so an extra var holding
// "{{ lookup('pipe', 'id') }}" used to run a command on the controller. Extra vars are values
// (params, outputs, payloads, secrets), never templates: each string is written with the
// `!unsafe` tag, which Ansible keeps as literal text wherever the variable is used.

/** An Ansible variable name: what `-e` accepts at the top level. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Deeper values are refused rather than walked: extra vars are settings, not documents. */
export const EXTRA_VARS_MAX_DEPTH = 32;

/** Extra vars that cannot be written as data (a bad variable name, nesting too deep, a value that is not JSON-like). */
export class ExtraVarsError extends Error {
  override readonly name = 'ExtraVarsError';
  constructor(
    /** Where in `extraVars`, e.g. `extraVars.cfg.items[2]`. */
    readonly at: string,
    readonly reason: string,
  ) {
    super(`${at}: ${reason}`);
  }
}

/**
 * The YAML text of an extra-vars file in which every string (values and nested keys) is tagged
 * `!unsafe`. Top-level keys must be variable names. Throws ExtraVarsError.
 */
export function unsafeExtraVarsYaml(vars: Readonly<Record<string, unknown>>): string {
  for (const key of Object.keys(vars)) {
    if (!VARIABLE_NAME.test(key)) throw new ExtraVarsError(`extraVars.${JSON.stringify(key)}`, 'a variable name has letters, digits and "_" only, and does not start with a digit');
    checkValue(vars[key], `extraVars.${key}`, 1);
  }
  const document = new Document(vars, { aliasDuplicateObjects: false });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'string') node.tag = '!unsafe';
    },
  });
  // Top-level keys are variable names, checked above; Ansible looks them up as plain names.
  if (isMap(document.contents)) {
    for (const pair of document.contents.items) if (isScalar(pair.key)) pair.key.tag = undefined;
  }
  return document.toString({ lineWidth: 0 });
}

/** Writes the extra-vars file (owner-only), for `-e @file`. Bad vars fail the task without retrying (InvalidActionInput). */
export async function writeExtraVarsFile(file: string, vars: Readonly<Record<string, unknown>>): Promise<void> {
  let text: string;
  try {
    text = unsafeExtraVarsYaml(vars);
  } catch (error) {
    if (!(error instanceof ExtraVarsError)) throw error;
    throw ApplicationFailure.create({ type: INVALID_ACTION_INPUT, nonRetryable: true, message: `invalid input for ansible.playbook: with.${error.message}` });
  }
  await writeFile(file, text, { mode: 0o600 });
}

function checkValue(value: unknown, at: string, depth: number): void {
  if (depth > EXTRA_VARS_MAX_DEPTH) throw new ExtraVarsError(at, `nested deeper than ${EXTRA_VARS_MAX_DEPTH} levels`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ExtraVarsError(at, 'numbers must be finite');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => checkValue(item, `${at}[${index}]`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkValue(item, `${at}.${key}`, depth + 1);
    return;
  }
  throw new ExtraVarsError(at, `a ${typeof value} cannot be written as a variable`);
}
