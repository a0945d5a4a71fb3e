// What the CLI's help says about identities, without loading the Temporal client or zod.
export { BOOTSTRAP_USER, ROLES } from '../workflows/identity-names';

export const DEFAULT_TOKEN_LIFETIME = '90d';
