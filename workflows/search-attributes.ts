import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes the Temporal server must know (registered by infra/ at start-up). */
export const DAG_KEY = defineSearchAttributeKey('QubinodeDag', SearchAttributeType.KEYWORD);
export const REPO_KEY = defineSearchAttributeKey('QubinodeRepo', SearchAttributeType.KEYWORD);
export const COMMIT_KEY = defineSearchAttributeKey('QubinodeCommit', SearchAttributeType.KEYWORD);
export const STATUS_KEY = defineSearchAttributeKey('QubinodeStatus', SearchAttributeType.KEYWORD);
/** Set on a `qubinode retry` run: the workflow id of the run it retries. */
export const RETRY_OF_KEY = defineSearchAttributeKey('QubinodeRetryOf', SearchAttributeType.KEYWORD);
/** Who started a run (the authenticated caller, or the OS user of a local CLI), so the Web UI and `qubinode runs --started-by` filter by person. */
export const STARTED_BY_KEY = defineSearchAttributeKey('QubinodeStartedBy', SearchAttributeType.KEYWORD);
