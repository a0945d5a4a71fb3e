// Types only: workflows import this file, so it must stay free of runtime code.
import type { SecretRef } from '../compiler/secret-references';
import type { RepoCredentialEnv } from '../schema/repo-config';

/** What a workflow passes to every action activity. */
export interface ActionInvocation<W = Record<string, unknown>> {
  /** Workflow id of the DAG run, e.g. "dag/examples/hello/20261125-2017-ab12". */
  runId: string;
  /** DAG id, e.g. "examples/hello". */
  dagId: string;
  /** Task id within the DAG, e.g. "greet". */
  taskId: string;
  /** Set for forEach fan-out items. */
  itemIndex?: number;
  /** The action's already-rendered inputs; the activity validates them again with its schema. */
  with: W;
  /** The repository and commit the run is pinned to. */
  source?: { repo: string; commit: string; url?: string; credentialEnv?: RepoCredentialEnv };
  /** Set by the worker, never by workflows: this worker's checkout of `source` (files a task may read). */
  repoDir?: string;
  /**
   * Secret references the DAG author wrote in `with` (from the compiled task). The worker resolves these
   * and only these; every other string in `with` is plain text, even one that reads `secret://…`.
   */
  secretRefs?: SecretRef[];
  /** Set by the worker, never by workflows: the values resolved from `secretRefs`, which must never leave the activity. */
  secrets?: string[];
}

/** What every action activity returns. Kept small: it lands in workflow history. */
export interface ActionResult {
  /** Small, JSON-serialisable values that downstream tasks may reference. */
  outputs: Record<string, unknown>;
  /** One line for humans. */
  summary: string;
  /** Full log file on the worker's disk. */
  logPath?: string;
}
