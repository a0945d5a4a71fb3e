import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANSIBLE_ERRORS, ANSIBLE_NON_RETRYABLE_ERRORS } from '../activities/actions/ansible';
import { DIAG_ERRORS, DIAG_NON_RETRYABLE_ERRORS } from '../activities/diag/diag';
import { PREFLIGHT_FAILED } from '../activities/platform/host-preflight';
import { HTTP_CHECK_ERRORS, HTTP_CHECK_NON_RETRYABLE_ERRORS } from '../activities/actions/http-check';
import { ACTION_NON_RETRYABLE_ERRORS } from '../activities/index';
import { KCLI_ERRORS, KCLI_NON_RETRYABLE_ERRORS } from '../activities/actions/kcli';
import { NETWORK_CHECKPOINT_ERRORS } from '../activities/actions/network-checkpoint';
import { UPDATE_ERRORS } from '../activities/actions/package-manager';
import { SHELL_ERRORS, SHELL_NON_RETRYABLE_ERRORS } from '../activities/actions/shell';
import { WORKER_LOST } from '../dag-repos/actions/action-definition';
import { ACTION_FAILURES, classifyFailureName, ENGINE_FAILURE_TYPES, FAILURE_TYPES, FailureType, isRetryable, nonRetryableOf, TASK_FAILURE_TYPES } from '../dag-repos/actions/failure-types';
import { HOST_REBOOT_FAILURES } from '../dag-repos/actions/host-actions';
import { CHECKPOINT_UNAVAILABLE, NETWORK_CHANGE_REVERTED, NETWORK_CHANGE_UNCONFIRMED } from '../dag-repos/actions/network-actions';
import { BUILTIN_ACTIONS } from '../dag-repos/actions/registry';
import { ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { POLICY_REFUSED_ON_HOST } from '../activities/platform/policy-gate';
import { APPROVAL_REJECTED } from '../workflows/approvals';
import { toTaskError } from '../workflows/failures';
import { failureName } from '../workflows/run-status';

/** Failure types are one closed list; every retry policy's non-retryable list derives from isRetryable. */

const COMMON = ['InvalidActionInput', 'SecretNotFound'];
const KCLI = [...COMMON, 'KcliNotInstalled', 'KcliFileNotFound', 'KcliAlreadyExists', 'KcliNotFound', 'KcliCreateFailed', 'KcliInvalidSpec'];
const DIAG = [...COMMON, 'KvmNotReady'];

// The lists as they were written out by hand before they were derived; compiled plans pin them.
const BEFORE: Record<string, string[]> = {
  shell: [...COMMON, 'CommandNotFound'],
  'http.check': COMMON,
  sleep: [],
  dag: [],
  noop: [],
  approval: [],
  rollout: [],
  'updates.detect': [...COMMON, 'UnsupportedPackageManager'],
  'updates.apply': [...COMMON, 'UnsupportedPackageManager', 'UpdateNotApplied'],
  'updates.revert': [...COMMON, 'UnsupportedPackageManager', 'UpdateNotApplied'],
  'ansible.playbook': [...COMMON, 'AnsibleFileNotFound', 'AnsibleNotInstalled', 'AnsiblePlaybookInvalid'],
  'diag.system_info': DIAG,
  'diag.resource_usage': DIAG,
  'diag.service_status': DIAG,
  'diag.process_info': DIAG,
  'diag.kvm': DIAG,
  'diag.network': DIAG,
  ...Object.fromEntries(['vm.create', 'vm.delete', 'vm.list', 'vm.info', 'vm.start', 'vm.stop', 'plan.create', 'plan.delete', 'network.create', 'network.delete', 'pool.create', 'pool.delete'].map((name) => [`kcli.${name}`, KCLI])),
  'host.preflight': [...COMMON, 'PreflightFailed'],
  'host.reboot': [...COMMON, 'HostDidNotComeBack', 'HostNotRebooted', 'HostVerifyFailed', 'HostDrainFailed', 'RebootCommandFailed'],
  'host.network-change': [...COMMON, 'NetworkChangeReverted', 'NetworkChangeUnconfirmed', 'CheckpointUnavailable'],
};

const sorted = (values: readonly string[]): string[] => [...values].sort();

describe('failure types', () => {
  it('classifies every declared type, each declared once', () => {
    assert.equal(new Set(FAILURE_TYPES).size, FAILURE_TYPES.length);
    for (const type of FAILURE_TYPES) assert.equal(typeof isRetryable(type), 'boolean', type);
    assert.deepEqual(FailureType.options, [...FAILURE_TYPES]);
  });

  it('gives every built-in action the non-retryable list it had, in the same order', () => {
    assert.deepEqual(sorted(BUILTIN_ACTIONS.map((action) => action.name)), sorted(Object.keys(BEFORE)));
    for (const action of BUILTIN_ACTIONS) assert.deepEqual([...action.nonRetryableErrors], BEFORE[action.name], action.name);
  });

  it('gives the activities the non-retryable lists they had', () => {
    assert.deepEqual(SHELL_NON_RETRYABLE_ERRORS, ['InvalidActionInput', 'CommandNotFound']);
    assert.deepEqual(HTTP_CHECK_NON_RETRYABLE_ERRORS, ['InvalidActionInput']);
    assert.deepEqual(ANSIBLE_NON_RETRYABLE_ERRORS, ['InvalidActionInput', 'AnsibleFileNotFound', 'AnsibleNotInstalled', 'AnsiblePlaybookInvalid']);
    assert.deepEqual(DIAG_NON_RETRYABLE_ERRORS, ['KvmNotReady']);
    assert.deepEqual(KCLI_NON_RETRYABLE_ERRORS, ['InvalidActionInput', 'KcliNotInstalled', 'KcliFileNotFound', 'KcliAlreadyExists', 'KcliNotFound', 'KcliCreateFailed', 'KcliInvalidSpec']);
    assert.deepEqual(ACTION_NON_RETRYABLE_ERRORS, ['InvalidActionInput', 'CommandNotFound', 'AnsibleFileNotFound', 'AnsibleNotInstalled', 'AnsiblePlaybookInvalid', 'KvmNotReady', 'KcliNotInstalled', 'KcliFileNotFound', 'KcliAlreadyExists', 'KcliNotFound', 'KcliCreateFailed', 'KcliInvalidSpec', 'PreflightFailed']);
  });

  it('holds each action family to the error table its activity or workflow throws from', () => {
    const pairs: [string, readonly string[], readonly string[]][] = [
      ['shell', Object.values(SHELL_ERRORS), ACTION_FAILURES.shell],
      ['httpCheck', Object.values(HTTP_CHECK_ERRORS), ACTION_FAILURES.httpCheck],
      ['ansible', Object.values(ANSIBLE_ERRORS), ACTION_FAILURES.ansible],
      ['diag', Object.values(DIAG_ERRORS), ACTION_FAILURES.diag],
      ['kcli', Object.values(KCLI_ERRORS), ACTION_FAILURES.kcli],
      ['preflight', [PREFLIGHT_FAILED], ACTION_FAILURES.preflight],
      ['updatesChange', Object.values(UPDATE_ERRORS), ACTION_FAILURES.updatesChange],
      ['hostReboot', Object.values(HOST_REBOOT_FAILURES), ACTION_FAILURES.hostReboot],
      ['networkChange', [NETWORK_CHANGE_REVERTED, NETWORK_CHANGE_UNCONFIRMED, CHECKPOINT_UNAVAILABLE], ACTION_FAILURES.networkChange],
    ];
    for (const [family, thrown, declared] of pairs) assert.deepEqual(sorted(thrown), sorted(declared), family);
  });

  it('never retries what the engine reruns itself or what is thrown non-retryable anyway', () => {
    assert.equal(isRetryable(WORKER_LOST), false);
    assert.equal(isRetryable('AttemptSuperseded'), false);
    for (const type of Object.values(NETWORK_CHECKPOINT_ERRORS)) assert.equal(isRetryable(type), false, type);
  });

  it('derives each type once, keeping the order given', () => {
    assert.deepEqual(nonRetryableOf(['CommandFailed', 'SecretNotFound', 'InvalidActionInput', 'SecretNotFound']), ['SecretNotFound', 'InvalidActionInput']);
    assert.deepEqual(nonRetryableOf([]), []);
  });

  it('refuses names outside the list, however close, rather than guessing their class', () => {
    for (const hostile of ['__proto__', 'constructor', 'commandfailed', 'CommandFailed ', 'Command\u200bFailed', '', 'x'.repeat(10_000)]) {
      assert.equal(FailureType.safeParse(hostile).success, false, JSON.stringify(hostile.slice(0, 20)));
      assert.throws(() => isRetryable(hostile as FailureType), /unclassified failure type/);
    }
  });
});

describe('a task error names its failure from one closed list', () => {
  const activityFailure = (cause: Error): ActivityFailure => new ActivityFailure('activity failed', 'shell', '1', RetryState.NON_RETRYABLE_FAILURE, undefined, cause);

  it('lists every type once: the actions\' and the engine\'s', () => {
    assert.equal(new Set(TASK_FAILURE_TYPES).size, TASK_FAILURE_TYPES.length);
    assert.deepEqual([...TASK_FAILURE_TYPES], [...FAILURE_TYPES, ...ENGINE_FAILURE_TYPES]);
    for (const thrownByTheEngine of [POLICY_REFUSED_ON_HOST, APPROVAL_REJECTED, 'ParamValidationError', 'HostWithoutWorker', 'RolloutHalted', 'DagRunFailed', 'DagRunTimedOut']) {
      assert.deepEqual(classifyFailureName(thrownByTheEngine), { type: thrownByTheEngine });
    }
  });

  it('keeps an action\'s own type and what it says about retrying', () => {
    const error = toTaskError(activityFailure(ApplicationFailure.create({ type: 'CommandFailed', message: 'exit 2', details: [{ exitCode: 2, secretish: 'not kept' }] })));
    assert.deepEqual(error, { type: 'CommandFailed', message: 'exit 2', retryable: true, details: { exitCode: 2 } });
    assert.equal(failureName(error), 'CommandFailed');
  });

  it('reports timeouts, cancellations and failed sub-DAGs as the engine\'s types', () => {
    assert.equal(toTaskError(activityFailure(new TimeoutFailure(undefined, undefined, TimeoutType.START_TO_CLOSE))).type, 'Timeout');
    assert.equal(toTaskError(new CancelledFailure('cancelled')).type, 'Cancelled');
    const child = new ChildWorkflowFailure('default', { workflowId: 'dag/child', runId: 'r1' }, 'dagRun', RetryState.NON_RETRYABLE_FAILURE, ApplicationFailure.create({ type: 'DagRunFailed', message: 'DAG run failed', nonRetryable: true }));
    assert.deepEqual(toTaskError(child), { type: 'DagRunFailed', message: 'DAG run failed', retryable: false });
  });

  it('files a name outside the list (a plugin\'s type, a programming error) as Unclassified, keeping the name printable and short', () => {
    const plugin = toTaskError(activityFailure(ApplicationFailure.create({ type: 'VaultSealed', message: 'vault is sealed', nonRetryable: true })));
    assert.deepEqual(plugin, { type: 'Unclassified', reportedType: 'VaultSealed', message: 'vault is sealed', retryable: false });
    assert.equal(failureName(plugin), 'VaultSealed');
    assert.deepEqual(toTaskError(activityFailure(new TypeError('x is undefined'))).reportedType, 'TypeError');
    const hostile = toTaskError(activityFailure(ApplicationFailure.create({ type: `Evil\r\nSet-Cookie: a=b<script>${'x'.repeat(500)}`, message: 'm' })));
    assert.equal(hostile.type, 'Unclassified');
    assert.match(hostile.reportedType ?? '', /^[A-Za-z0-9_.:-]{1,80}$/);
    for (const lookalike of ['__proto__', 'constructor', 'commandfailed', 'Command\u200bFailed', '']) {
      assert.equal(classifyFailureName(lookalike).type, 'Unclassified', JSON.stringify(lookalike));
    }
    assert.deepEqual(toTaskError('a thrown string'), { type: 'Unclassified', reportedType: 'Error', message: 'a thrown string', retryable: false });
  });
});
