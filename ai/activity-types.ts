// Types only: workflows import this file, so it must stay free of runtime code.
import type { RepoCredentialEnv } from '../dag-repos/schema/repo-config';
import type { FailureAnalysis, FailureFacts } from '../dag-repos/actions/failure-analysis';

/** The AI activities as workflows see them (implemented by activities/platform/ai.ts). */
export interface AiActivities {
  /** The model within QUBINODE_AI_TIMEOUT_MS, else the rules; never throws for a model problem. */
  'ai.analyze'(facts: FailureFacts): Promise<FailureAnalysis>;
  /** The rules alone (milliseconds), with the reason the model was not used when one is given. */
  'ai.analyzeWithRules'(facts: FailureFacts & { fallbackReason?: string }): Promise<FailureAnalysis>;
  /**
   * The model's plain-language summary and likely cause on top of the rules' answer (`source: 'rules+model'`),
   * within QUBINODE_AI_TIMEOUT_MS; else the rules' answer with `fallbackReason`. Never throws for a model problem.
   */
  'ai.enrich'(input: { facts: FailureFacts; rules: FailureAnalysis }): Promise<FailureAnalysis>;
  /** Re-indexes changed knowledge sources now (e.g. after a repository sync). */
  /** Re-indexes changed files; with `source`, first adds (or moves) a synced repository's checkout at that commit. */
  'ai.refreshIndex'(source?: SyncedSource): Promise<{ added: number; changed: number; removed: number; chunks: number }>;
}

/** A Git-synced repository at a commit, as the repository's sync workflow names it. */
export interface SyncedSource {
  repo: string;
  url: string;
  commit: string;
  credentialEnv?: RepoCredentialEnv;
}
