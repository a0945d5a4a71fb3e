import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

/** Custom search attributes the Temporal server must know (registered by infra/ at start-up). */
export const DAG_KEY = defineSearchAttributeKey('QubinodeDag', SearchAttributeType.KEYWORD);
export const REPO_KEY = defineSearchAttributeKey('QubinodeRepo', SearchAttributeType.KEYWORD);
export const COMMIT_KEY = defineSearchAttributeKey('QubinodeCommit', SearchAttributeType.KEYWORD);
export const STATUS_KEY = defineSearchAttributeKey('QubinodeStatus', SearchAttributeType.KEYWORD);
/** Set on a `qubinode retry` run: the workflow id of the run it retries. */
export const RETRY_OF_KEY = defineSearchAttributeKey('QubinodeRetryOf', SearchAttributeType.KEYWORD);
/** Who started a run (the authenticated caller, or the OS user of a local CLI), so the Web UI and `qubinode runs --started-by` filter by person. */
export const STARTED_BY_KEY = defineSearchAttributeKey('QubinodeStartedBy', SearchAttributeType.KEYWORD);

/** What a run's search attributes are built from: the DAG's catalog id and the commit it is pinned to. */
export interface RunAttributeSource {
  catalogId: string;
  origin: { repo: string; commit: string };
}

/**
 * The search attributes a DAG run starts with, whoever starts it (a client, a schedule, a parent run, a
 * rollout): which DAG, repository and commit, `running`, and who started it when someone did.
 */
export function runSearchAttributes(dag: RunAttributeSource, startedBy?: string): SearchAttributePair[] {
  return [
    { key: DAG_KEY, value: dag.catalogId },
    { key: REPO_KEY, value: dag.origin.repo },
    { key: COMMIT_KEY, value: dag.origin.commit },
    { key: STATUS_KEY, value: 'running' },
    ...starter(startedBy),
  ];
}

/** The search attributes of a workflow a task starts that is not a DAG run (a rollout, an action workflow): its run's DAG, `running`, its starter. */
export function taskWorkflowSearchAttributes(catalogId: string, startedBy?: string): SearchAttributePair[] {
  return [{ key: DAG_KEY, value: catalogId }, { key: STATUS_KEY, value: 'running' }, ...starter(startedBy)];
}

// Runs without a starter (all runs recorded before starters existed) carry no key at all, so their commands stay as they were.
function starter(startedBy: string | undefined): SearchAttributePair[] {
  return startedBy ? [{ key: STARTED_BY_KEY, value: startedBy }] : [];
}
