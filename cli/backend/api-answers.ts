import { z } from 'zod';
import { ParamSpec } from '../../client/run-params';
import { AuditEntry, TASK_STATES, TokenRecord, UserRecord } from '../../client/workflow-views';

/**
 * Shapes of the API's answers, checked before the CLI prints them. Where the project has a schema
 * (params, users, tokens, audit entries) it is used; records that are plain interfaces elsewhere
 * (run status, rollbacks, repository views) are checked for the fields the CLI reads and passed on
 * whole, so a newer server adding fields is not refused.
 */

const Text = z.string().max(100_000);
const Loose = z.looseObject({});

export const IdentityAnswer = z.looseObject({ user: Text, roles: z.array(Text).max(10), via: Text });

export const DagListingAnswer = z.array(
  z.looseObject({
    id: Text,
    repo: Text,
    path: Text,
    commit: Text,
    description: Text,
    valid: z.boolean(),
    diagnostics: z.array(z.looseObject({ code: Text, file: Text, line: z.number(), column: z.number(), path: Text, message: Text })),
    tasks: z.array(Text),
    params: z.record(Text, ParamSpec),
  }),
);

export const CompiledDagAnswer = z.looseObject({
  catalogId: Text,
  id: Text,
  description: Text,
  origin: z.looseObject({ repo: Text, path: Text, commit: Text }),
  params: z.record(Text, ParamSpec),
  tasks: z.array(z.looseObject({ id: Text, action: Text, needs: z.array(Text), trigger: Text })),
  concurrency: z.number(),
});

export const StartedAnswer = z.looseObject({ runId: Text, url: Text.optional() });

const TaskAnswer = z.looseObject({ id: Text, action: Text, state: z.enum(TASK_STATES), attempt: z.number() });

export const RunStatusAnswer = z.looseObject({
  runId: Text,
  runKey: Text,
  dagId: Text,
  repo: Text,
  commit: Text,
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  startedAt: Text,
  params: z.record(Text, z.unknown()),
  progress: z.object({ done: z.number(), total: z.number() }),
  tasks: z.array(TaskAnswer),
});

export const RunListAnswer = z.array(z.looseObject({ runId: Text, dagId: Text, state: Text, commit: Text, startedAt: Text, endedAt: Text.optional(), startedBy: Text.optional() }));

export const RunIdAnswer = z.looseObject({ runId: Text });

export const ApprovalAnswer = z.looseObject({ taskId: Text, state: z.enum(['waiting', 'approved', 'rejected']), approvers: z.array(Text) });

export const RetryAnswer = z.looseObject({ runId: Text, reused: z.array(Text) });

export const RollbackAnswer = z.looseObject({ state: Text, mode: Text, trigger: Text, reason: Text, compensations: z.array(z.looseObject({ taskId: Text, action: Text, state: Text })) });

export const RolloutAnswer = z.looseObject({ rolloutId: Text, strategy: Text, state: Text, batch: z.number(), batches: z.number(), done: z.number(), failed: z.number(), targets: z.array(Loose) });

const SyncAnswerShape = z.looseObject({ state: z.enum(['accepted', 'rejected', 'unchanged']), commit: Text, at: Text, message: Text, reason: Text, errors: z.array(z.looseObject({ file: Text, problems: z.array(Text) })), findings: z.array(Loose) });
export const SyncAnswer = SyncAnswerShape;

export const RepoAnswer = z.looseObject({
  config: z.looseObject({ name: Text, url: Text, branch: Text, path: Text, forge: Text }),
  active: z.looseObject({ commit: Text, syncedAt: Text, dags: z.array(z.looseObject({ catalogId: Text })) }).optional(),
  lastSync: SyncAnswerShape.optional(),
  syncing: z.boolean(),
  pending: z.boolean(),
});
export const RepoListAnswer = z.array(RepoAnswer);

export const RunLogsAnswer = z.looseObject({
  runId: Text,
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  files: z.array(z.looseObject({ name: Text, offset: z.number(), nextOffset: z.number(), size: z.number(), text: z.string(), queue: Text })),
  matched: z.number(),
  more: z.boolean(),
  next: z.record(Text, z.number()),
  unavailable: z.array(z.object({ queue: Text, message: Text })),
});

export const AuditAnswer = z.array(AuditEntry);
export const UsersAnswer = z.array(UserRecord);
export const UserAnswer = UserRecord;
export const RemovedUserAnswer = z.object({ removed: Text, revokedTokens: z.array(Text) });
const TokenViewShape = TokenRecord.omit({ hash: true });
export const TokenAnswer = TokenViewShape;
export const TokensAnswer = z.array(TokenViewShape.extend({ state: z.enum(['live', 'revoked', 'expired']) }));
export const IssuedTokenAnswer = TokenViewShape.extend({ token: z.string().min(16).max(4096) });

/** GET /api/hosts: the fields the host table prints; the rest is passed on whole. */
export const HostsAnswer = z.array(
  z.looseObject({
    queue: Text,
    state: z.enum(['online', 'offline']),
    lastSeen: Text.optional(),
    offlineSince: Text.optional(),
    pollers: z.array(z.looseObject({ identity: Text, kind: z.enum(['workflow', 'activity']), lastAccessTime: Text.optional() })),
    worker: z
      .looseObject({ version: Text, kernel: Text, arch: Text, cpuCount: z.number(), memoryMiB: z.number(), os: z.looseObject({}), labels: z.record(Text, Text), addresses: z.array(Text).max(64) })
      .optional(),
    instances: z.array(Loose),
  }),
);
