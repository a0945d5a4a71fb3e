// The names of the host diagnostics, for `qubinode diag`'s help and argument check without loading the worker.
export { DIAG_TOOLS, type DiagTool } from '../dag-repos/actions/diag-tools';
