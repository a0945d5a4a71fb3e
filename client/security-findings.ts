// Findings of the security scan as the CLI prints them, and which of them block. Kept apart from the
// scan itself (client/dag-scan.ts): printing a sync's findings needs neither the scanner nor the compiler.
export { blockingFindings, formatFinding, type Finding } from '../dag-repos/schema/findings';
