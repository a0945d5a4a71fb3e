// Pure constants of the identity model, apart from its schemas, so the CLI's help can name them without loading zod.

/** viewer reads; operator starts, cancels, aborts, retries, rolls back and syncs; approver decides approvals; admin everything. */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;

/** The name the shared API token acts as; no stored user may take it. */
export const BOOTSTRAP_USER = 'bootstrap-admin';
