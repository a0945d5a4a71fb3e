// Pure: the names alone, without the input schemas, so the CLI can list them in its help without loading zod.

/** The diag tools: the part after "diag." and the CLI's `qubinode diag TOOL`. */
export const DIAG_TOOLS = ['system_info', 'resource_usage', 'service_status', 'process_info', 'kvm', 'network'] as const;
export type DiagTool = (typeof DIAG_TOOLS)[number];
