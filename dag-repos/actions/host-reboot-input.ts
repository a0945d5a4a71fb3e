// Pure schema module: inputs of the `host.reboot` action. The registry and the hostReboot workflow import it.
import { z } from 'zod';
import { parseDuration } from '../schema/duration';
import { Duration } from '../schema/dag-spec';

/**
 * A guest (libvirt domain / kcli VM) name as it may reach virsh or kcli argv: a letter or digit first, so
 * nothing reads as an option, and no '/', so nothing reads as a path.
 */
export const GuestName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'a guest name is letters, digits, ".", "_" and "-", starting with a letter or digit' });

/** Most guests one drain names: a hypervisor with more is drained with `all`. */
export const MAX_DRAIN_GUESTS = 200;

/** Where guests migrate to: a host name or address that libvirt reaches as qemu+ssh://<host>/system. */
const MigrationHost = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$/, { message: 'a host name, an IPv4 address or a bracketed IPv6 address' });

/** A Duration no longer than `maxMs`, so a typo such as 15000m does not keep a host down for weeks. */
const BoundedDuration = (maxMs: number, what: string) =>
  Duration.refine((text) => {
    try {
      return parseDuration(text) <= maxMs;
    } catch {
      return true; // Duration reports the syntax
    }
  }, { message: `${what} is at most ${maxMs / 3_600_000}h` });

export const HostDrain = z
  .strictObject({
    mode: z.enum(['shutdown', 'migrate', 'none']).default('none').describe('shutdown: stop the guests (started again after the reboot); migrate: live-migrate them to migrateTo; none: leave them (they go down with the host).'),
    guests: z
      .union([z.literal('all'), z.array(GuestName).min(1).max(MAX_DRAIN_GUESTS)])
      .default('all')
      .describe('The guests to drain: their names, or all running guests.'),
    migrateTo: MigrationHost.optional().describe('migrate: the host the guests move to (virsh migrate --live to qemu+ssh://<host>/system).'),
    tool: z.enum(['kcli', 'virsh']).default('virsh').describe('What stops and starts guests: virsh (libvirt) or kcli.'),
    grace: BoundedDuration(3_600_000, 'grace').default('2m').describe('How long a guest gets to shut down by itself before it is powered off (virsh destroy / kcli stop).'),
    client: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).max(64).optional().describe("kcli client (kcli -C) from the worker's kcli config."),
  })
  .superRefine((drain, ctx) => {
    if (drain.mode === 'migrate' && drain.migrateTo === undefined) ctx.addIssue({ code: 'custom', path: ['migrateTo'], message: 'migrate needs migrateTo' });
    if (drain.mode !== 'migrate' && drain.migrateTo !== undefined) ctx.addIssue({ code: 'custom', path: ['migrateTo'], message: 'migrateTo is only for mode migrate' });
    if (drain.mode === 'migrate' && drain.tool !== 'virsh') ctx.addIssue({ code: 'custom', path: ['tool'], message: 'live migration goes through virsh; kcli has no live migration' });
    if (drain.client !== undefined && drain.tool !== 'kcli') ctx.addIssue({ code: 'custom', path: ['client'], message: 'client is a kcli setting' });
  });
export type HostDrain = z.infer<typeof HostDrain>;

export const HostVerify = z
  .strictObject({
    command: z
      .array(z.string().min(1).max(4096))
      .min(1)
      .max(64)
      .optional()
      .describe('A program and its arguments (argv, no shell) run on the host once it is back; a non-zero exit fails the task.'),
    kernel: z.string().min(1).max(200).optional().describe('The kernel release (uname -r) the host must run after the reboot.'),
    timeout: BoundedDuration(3_600_000, 'verify timeout').default('5m').describe('Limit of the verify command.'),
  })
  .refine((verify) => verify.command !== undefined || verify.kernel !== undefined, { message: 'give a command, a kernel, or both' });
export type HostVerify = z.infer<typeof HostVerify>;

/** Inputs of `host.reboot`: drain, reboot, wait for the host's worker, verify, start the drained guests. */
export const HostRebootInput = z.strictObject({
  drain: HostDrain.prefault({ mode: 'none' }).describe('What happens to the guests before the reboot.'),
  waitFor: BoundedDuration(24 * 3_600_000, 'waitFor').default('15m').describe("How long to wait for the host's worker to come back."),
  verify: HostVerify.optional().describe('Checks on the host once it is back, beyond its new boot.'),
});
export type HostRebootInput = z.infer<typeof HostRebootInput>;
