import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';

// Ansible finds a host's Python by "interpreter discovery": it asks the host's shell for the first of
// python3.13, python3.12, ... /usr/bin/python3 that exists. On a machine where those names are pyenv
// shims for versions that are not installed, discovery picks a shim that exits 1 and every module on
// a local-connection host fails. Ansible's own implicit localhost avoids this by running modules
// with the interpreter ansible runs on (ansible_playbook_python); an inventory that lists
// `localhost ansible_connection=local` loses that, so the same default is supplied here.
//
// It is supplied as a variable of the group `all` in an inventory source placed before the task's
// own inventory, which is the lowest place a host variable can be set: any ansible_python_interpreter
// the task's inventory sets (host, group, `all:vars`, group_vars/ and host_vars/ files), or the
// playbook or extra vars set, wins over it. An extra var would not do (it beats every inventory), nor
// ANSIBLE_PYTHON_INTERPRETER (it would reach ssh hosts too). The value is a template ansible
// evaluates per host:
// - hosts with another connection (ssh, ...) keep what ansible's configuration says (by default
//   `auto`, i.e. discovery);
// - a local-connection host gets the configured interpreter when the configuration names one
//   (ANSIBLE_PYTHON_INTERPRETER or interpreter_python set to a path), else ansible_playbook_python.
// The text is a constant: nothing of the task's input ever enters it.

const LOCAL_CONNECTIONS = "['local', 'ansible.builtin.local', 'ansible.legacy.local']";
const INTERPRETER_TEMPLATE =
  "{% set configured = lookup('ansible.builtin.config', 'INTERPRETER_PYTHON') %}" +
  `{{ ansible_playbook_python if (ansible_connection | default('')) in ${LOCAL_CONNECTIONS} and configured.startswith('auto') else configured }}`;

/** INI inventory text that gives local-connection hosts the controller's Python unless something else names one. */
export const LOCAL_PYTHON_INVENTORY = `# Local-connection hosts run modules with the Python ansible runs on, unless an inventory, the
# playbook, extra vars or ansible's configuration name an interpreter.
[all:vars]
ansible_python_interpreter="${INTERPRETER_TEMPLATE}"
`;

/** Writes the default-interpreter inventory into `dir`; pass it with `-i` before the task's own inventory. */
export async function writeLocalPythonInventory(dir: string): Promise<string> {
  const file = path.join(dir, 'local-python.ini');
  await writeFile(file, LOCAL_PYTHON_INVENTORY, { mode: 0o600 });
  return file;
}
