import type { ActionDefinition } from './action-definition';
import { actionNonRetryable } from './failure-types';
import { DagCallInput, NoopInput, SleepInput } from './builtin-inputs';
import { HOST_REBOOT_ACTIONS } from './host-actions';
import { HttpCheckInput } from './http-check-input';
import { INFRA_ACTIONS } from './infra-actions';
import { NETWORK_ACTIONS } from './network-actions';
import { ROLLOUT_ACTIONS } from './rollout-actions';
import { ShellInput } from './shell-input';

const CORE_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'shell',
    description: 'Run a command (argv, no shell) or a script; output goes to the task log.',
    input: ShellInput,
    execution: { kind: 'activity', activity: 'shell' },
    nonRetryableErrors: actionNonRetryable('shell'),
    heartbeatTimeoutMs: 30_000,
    defaultTimeoutMs: 60 * 60_000,
  },
  {
    name: 'http.check',
    description: 'Poll a URL until it answers as expected or the deadline passes.',
    input: HttpCheckInput,
    execution: { kind: 'activity', activity: 'httpCheck' },
    nonRetryableErrors: actionNonRetryable('httpCheck'),
    heartbeatTimeoutMs: 30_000,
    defaultTimeoutMs: 30 * 60_000,
  },
  {
    name: 'sleep',
    description: 'Wait for a duration on a durable timer.',
    input: SleepInput,
    execution: { kind: 'timer' },
    nonRetryableErrors: [],
    defaultTimeoutMs: 0,
  },
  {
    name: 'dag',
    description: 'Run another DAG as a child workflow.',
    input: DagCallInput,
    execution: { kind: 'child-dag' },
    nonRetryableErrors: [],
    defaultTimeoutMs: 0,
  },
  {
    name: 'noop',
    description: 'Do nothing; returns its inputs as outputs. Useful for joins and tests.',
    input: NoopInput,
    execution: { kind: 'activity', activity: 'noop' },
    nonRetryableErrors: [],
    defaultTimeoutMs: 60_000,
  },
];

/**
 * Every action a DAG may use. Each family of actions (core here; infrastructure, rollout, AI in
 * their own modules) contributes its list.
 */
export const BUILTIN_ACTIONS: readonly ActionDefinition[] = [...CORE_ACTIONS, ...ROLLOUT_ACTIONS, ...INFRA_ACTIONS, ...HOST_REBOOT_ACTIONS, ...NETWORK_ACTIONS];

export type { ActionDefinition, ActionExecution } from './action-definition';

export class DuplicateActionError extends Error {
  override readonly name = 'DuplicateActionError';
}

/** The fixed set of `uses:` names a DAG may call; plugins add to it, nothing else does. */
export class ActionRegistry {
  private readonly byName = new Map<string, ActionDefinition>();

  constructor(definitions: readonly ActionDefinition[] = BUILTIN_ACTIONS) {
    for (const definition of definitions) {
      if (this.byName.has(definition.name)) throw new DuplicateActionError(`action "${definition.name}" is defined twice`);
      this.byName.set(definition.name, definition);
    }
  }

  get(name: string): ActionDefinition | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  extend(definitions: readonly ActionDefinition[]): ActionRegistry {
    return new ActionRegistry([...this.byName.values(), ...definitions]);
  }
}
