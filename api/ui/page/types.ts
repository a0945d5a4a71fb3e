/**
 * The API's answers as the page reads them: a subset of workflows/run-status.ts, client/runs.ts and
 * the catalog's types, restated here because browser code does not import the server's modules.
 */

export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type TaskState = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Session {
  user: string;
  roles: Role[];
  /** Null when the session answer came from a bearer header rather than the cookie. */
  csrf: string | null;
  temporal?: { uiUrl: string; namespace: string };
}

/** GET /ui/session/methods (api/ui-session.ts). */
export interface SignInMethods {
  token: true;
  sso: { name: string; start: string } | null;
}

export interface TaskError {
  type: string;
  /** The failure's own name when type is Unclassified (a plugin's type, a JavaScript error). */
  reportedType?: string;
  message: string;
  retryable?: boolean;
}

export interface FailureAnalysis {
  summary: string;
  likelyCause: string;
  fixes: { command?: string; edit?: string; why: string }[];
  confidence: number;
  source: 'model' | 'rules' | 'rules+model';
  category?: string;
  model?: string;
}

export interface TaskStatus {
  id: string;
  name?: string;
  action: string;
  needs?: string[];
  state: TaskState;
  attempt: number;
  startedAt?: string;
  endedAt?: string;
  reason?: string;
  summary?: string;
  error?: TaskError;
  runsOn?: string;
  items?: { index: number; label: string; state: TaskState; attempt: number; runsOn?: string }[];
  analysis?: FailureAnalysis;
  analysisPending?: boolean;
}

export interface ApprovalRecord {
  taskId: string;
  state: 'waiting' | 'approved' | 'rejected';
  message?: string;
  approvers: string[];
  requestedAt: string;
  decidedAt?: string;
  by?: string;
  comment?: string;
}

export interface RunStatus {
  runId: string;
  runKey: string;
  dagId: string;
  repo: string;
  commit: string;
  state: RunState;
  startedAt: string;
  endedAt?: string;
  params: Record<string, unknown>;
  progress: { done: number; total: number };
  tasks: TaskStatus[];
  reason?: string;
  approvals?: ApprovalRecord[];
  rollback?: { state: 'running' | 'succeeded' | 'failed'; reason: string };
  retryOf?: string;
  waitingForHost?: { host: string; heldBy?: string; since?: string };
  waitingForWindow?: string;
}

export interface RunSummary {
  runId: string;
  dagId: string;
  state: string;
  commit: string;
  startedAt: string;
  endedAt?: string;
  startedBy?: string;
}

export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';

export interface ParamSpec {
  type?: ParamType;
  description?: string;
  default?: unknown;
  required?: boolean;
  enum?: (string | number | boolean)[];
  secret?: boolean;
}

export interface DagListEntry {
  id: string;
  repo: string;
  path: string;
  commit: string;
  description: string;
  tasks: string[];
  /** What each task waits for (tasks without dependencies are left out). */
  needs?: Record<string, string[]>;
  params: Record<string, ParamSpec>;
}

export interface CompiledDag {
  catalogId: string;
  id: string;
  description: string;
  params: Record<string, ParamSpec>;
  tasks: { id: string; name?: string; action: string; needs: string[]; runsOn?: string }[];
  origin: { repo: string; path: string; commit: string };
}

export interface Finding {
  rule: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  message: string;
  allowedBecause?: string;
  task?: string;
}

export interface SyncRecord {
  state: 'accepted' | 'rejected' | 'unchanged';
  commit: string;
  at: string;
  message: string;
  reason: string;
  errors: { file: string; problems: string[] }[];
  findings: Finding[];
}

export interface RepoView {
  config: { name: string; url: string; branch?: string };
  active?: { commit: string; syncedAt: string; dags: { catalogId: string }[] };
  lastSync?: SyncRecord;
  syncing: boolean;
  pending: boolean;
  /** The last webhook deliveries the API received for it, newest first. */
  deliveries?: WebhookDelivery[];
}

export interface WebhookDelivery {
  at: string;
  forge: string;
  /** accepted, duplicate, ping, ignored_event, untracked_branch, malformed, no_secret, bad_signature, not_ready. */
  outcome: string;
  status: number;
  event?: string;
  commit?: string;
  deliveryId?: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  via: string;
  action: string;
  target: string;
  outcome: string;
  from?: string;
  onBehalfOf?: string;
  detail?: string;
}

export interface RunLogs {
  state: RunState;
  files: { name: string; text: string; queue: string }[];
  more: boolean;
  cursor: string;
  unavailable: { queue: string; message: string }[];
}

export interface DagStats {
  dag: string;
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  running: number;
  successRate: number | null;
  durationMs: { p50: number | null; p95: number | null; count: number };
  errorTypes: Record<string, number>;
  categories: Record<string, number>;
}

export interface RunStats {
  since: string;
  until: string;
  dags: DagStats[];
  scanned: number;
  complete: boolean;
}
