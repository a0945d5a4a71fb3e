/**
 * Where audit entries live. One `auditLog` workflow per UTC hour: an hour's entries must fit one
 * continue-as-new input (Temporal refuses payloads over 2 MB by default), and a day of busy
 * webhooks would not. Every worker that runs workflows also polls AUDIT_TASK_QUEUE, so the log
 * does not depend on which deployment queue recorded it.
 */

export const AUDIT_TASK_QUEUE = 'qubinode-audit';
export const AUDIT_WORKFLOW_TYPE = 'auditLog';

/** How long an hour's log stays open (and so kept) after the hour ends. */
export const AUDIT_RETENTION_DAYS = 400;

export const HOUR_MS = 3_600_000;
