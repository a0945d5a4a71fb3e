import type { CompiledDag } from '../compiler/compiled-dag';
import type { Finding } from './findings';
import type { RepoConfig } from './repo-config';

/** Problems of one file in a synced commit, already formatted `file:line:col path: message`. */
export interface FileProblem {
  file: string;
  problems: string[];
}

export type SyncState = 'accepted' | 'rejected' | 'unchanged';

/** What one sync of a repository found. Small enough for workflow history. */
export interface SyncOutcome {
  state: SyncState;
  /** The commit that was examined; empty when the branch could not be read. */
  commit: string;
  branch: string;
  message: string;
  dags: CompiledDag[];
  errors: FileProblem[];
  findings: Finding[];
  /** Paths changed since the previous active commit (all DAG files when unknown). */
  changedPaths: string[];
  durationMs: number;
}

export interface SyncRecord {
  state: SyncState;
  commit: string;
  at: string;
  message: string;
  reason: string;
  errors: FileProblem[];
  findings: Finding[];
}

export interface ActiveCommit {
  commit: string;
  syncedAt: string;
  dags: CompiledDag[];
}

/** What the repo's workflow answers to the `catalog` query. */
export interface RepoView {
  config: RepoConfig;
  active?: ActiveCommit;
  lastSync?: SyncRecord;
  syncing: boolean;
  pending: boolean;
  removed: boolean;
}
