// Pure schema module: inputs of the diag.* actions.
import { z } from 'zod';

export const DiagSystemInfoInput = z.strictObject({});
export const DiagResourceUsageInput = z.strictObject({
  paths: z.array(z.string().min(1)).optional().describe('Filesystems to report; default / and /var/lib/libvirt/images when present.'),
});
export const DiagServiceStatusInput = z.strictObject({
  services: z.array(z.string().min(1)).min(1).describe('Service names, e.g. ["libvirtd", "sshd"].'),
  require: z.boolean().default(false).describe('Fail (ServiceNotActive) when any service is not active.'),
});
export const DiagProcessInfoInput = z.strictObject({
  names: z.array(z.string().min(1)).optional().describe('Only processes with these command names.'),
  top: z.number().int().min(1).max(100).default(10).describe('How many processes, largest resident memory first.'),
});
// libvirt's ext transport runs the program named by ?command=, and ?netcat= names one on the remote
// host; a host starting with "-" would reach ssh as an option.
const LIBVIRT_URI = /^[a-z][a-z0-9]*(\+(unix|ssh|libssh|libssh2|tcp|tls))?:\/\/(?!-)[^\s]*$/;
const PROGRAM_OR_FILE_PARAM = /[?&](command|netcat|socket|keyfile|known_hosts|pkipath)=/i;
export const DiagKvmInput = z.strictObject({
  require: z.boolean().default(false).describe('Fail (KvmNotReady) when /dev/kvm, CPU virtualization or libvirtd is missing.'),
  allowEmulation: z.boolean().default(false).describe('With require: accept a host without usable KVM, whose guests run in software emulation (QEMU TCG); libvirtd must still answer.'),
  libvirtUri: z
    .string()
    .regex(LIBVIRT_URI, 'a libvirt URI such as qemu:///system or qemu+ssh://host/system (the ext transport, which runs a command, is refused)')
    .refine((uri) => !PROGRAM_OR_FILE_PARAM.test(uri), 'URI parameters that name a program or a file (command, netcat, socket, keyfile, known_hosts, pkipath) are refused')
    .default('qemu:///system')
    .describe('libvirt connection URI; may come from a param, so it cannot name a program to run.'),
});
export const DiagNetworkInput = z.strictObject({
  resolve: z.array(z.string().min(1)).default(['localhost']).describe('Host names to resolve with the system resolver.'),
});

export type DiagKvmInput = z.infer<typeof DiagKvmInput>;
export type DiagNetworkInput = z.infer<typeof DiagNetworkInput>;
export type DiagProcessInfoInput = z.infer<typeof DiagProcessInfoInput>;
export type DiagResourceUsageInput = z.infer<typeof DiagResourceUsageInput>;
export type DiagServiceStatusInput = z.infer<typeof DiagServiceStatusInput>;

import { DIAG_TOOLS, type DiagTool } from './diag-tools';

export { DIAG_TOOLS, type DiagTool };

export const DIAG_INPUTS: Record<DiagTool, z.ZodType> = {
  system_info: DiagSystemInfoInput,
  resource_usage: DiagResourceUsageInput,
  service_status: DiagServiceStatusInput,
  process_info: DiagProcessInfoInput,
  kvm: DiagKvmInput,
  network: DiagNetworkInput,
};

/** Inputs of `host.preflight`: the plugins' checks (OS supported, x86_64-v3, ...) plus KVM readiness. */
export const HostPreflightInput = z.strictObject({
  kvm: z.boolean().default(true).describe('Also require /dev/kvm and CPU virtualization flags (vmx/svm).'),
  allowEmulation: z.boolean().default(false).describe('Report a missing or unusable /dev/kvm and missing vmx/svm as warnings: guests will run in software emulation.'),
  allowUnsupportedOs: z.boolean().default(false).describe('Report an unsupported OS (e.g. Debian for development) as a warning, not an error.'),
  require: z.boolean().default(true).describe('Fail (PreflightFailed, not retried) when an error-level check fails; false: only report.'),
});
export type HostPreflightInput = z.infer<typeof HostPreflightInput>;
