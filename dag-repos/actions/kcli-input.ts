// Pure schema module: inputs of the kcli.* actions.
import { z } from 'zod';
import { Duration } from '../schema/dag-spec';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');
const client = z.string().min(1).optional().describe('kcli client (kcli -C) from the worker\'s kcli config; default: its default client.');
const ifExists = z.enum(['skip', 'fail', 'replace']).default('fail').describe('When it already exists: skip (succeed, report it), fail, or replace (delete, then create).');
const ifMissing = z.enum(['skip', 'fail']).default('skip').describe('When it does not exist: skip (succeed; safe as a compensation) or fail.');
const kcliValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);

// kcli renders every cloud-init command, and every file it reads by `origin`, as a Jinja2 template
// in its own process without a sandbox, so `{{ … }}` there runs Python on the worker. Values and DAG
// text alike stay out of it: no Jinja delimiters in cloudInit or params, no origin files, no scripts.
const JINJA = /\{\{|\{%|\{#/;
/** The engine's own `${{ }}` expressions are rendered before kcli sees the input, so they are not Jinja. */
const EXPRESSION = /\$\{\{[\s\S]*?\}\}/g;
function kcliTemplateProblem(value: unknown, depth = 0): string | undefined {
  if (typeof value === 'string') return JINJA.test(value.replace(EXPRESSION, '')) ? `kcli would run ${JSON.stringify(value.slice(0, 60))} as a Jinja template; "{{", "{%" and "{#" are refused here` : undefined;
  if (depth > 32) return 'nested too deep';
  if (Array.isArray(value)) return value.map((item: unknown) => kcliTemplateProblem(item, depth + 1)).find(Boolean);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('origin' in record) return 'files read by origin are rendered as Jinja templates on the worker; give their content instead';
    if ('scripts' in record) return 'scripts are files on the worker rendered as Jinja templates; use cloudInit.cmds';
    return Object.values(record).map((item) => kcliTemplateProblem(item, depth + 1)).find(Boolean);
  }
  return undefined;
}

// kcli reads a key that names an existing file on the worker from that file: a key must be the key itself.
const PUBLIC_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$/;
function keyProblems(keys: unknown): string | undefined {
  if (keys === undefined) return undefined;
  const list = Array.isArray(keys) ? keys : [keys];
  for (const key of list) {
    if (typeof key === 'string' && key.includes('${{')) continue;
    if (typeof key !== 'string' || !PUBLIC_KEY.test(key) || key.length > 16_384) return `${JSON.stringify(String(key).slice(0, 60))} is not an SSH public key ("ssh-ed25519 AAAA… comment"); kcli would read a path on the worker as a file`;
  }
  return undefined;
}

export const KcliVmCreateInput = z
  .strictObject({
    name,
    image: z.string().min(1).optional().describe('Image name known to kcli (kcli download image …); omit for a VM without a disk image.'),
    profile: z.string().min(1).optional().describe('kcli profile instead of an image.'),
    memory: z.number().int().min(64).optional().describe('MiB.'),
    cpus: z.number().int().min(1).optional(),
    disks: z.array(z.union([z.number().positive(), z.strictObject({ size: z.number().positive(), pool: z.string().min(1).optional() })])).optional().describe('Disk sizes in GiB, or {size, pool}.'),
    nets: z.array(z.union([z.string().min(1), z.record(z.string(), kcliValue)])).optional().describe('Networks by name, or kcli net objects ({name, ip, netmask, gateway}).'),
    pool: z.string().min(1).optional(),
    cloudInit: z
      .strictObject({
        enabled: z.boolean().default(true),
        cmds: z.array(z.string()).optional().describe('Commands run on first boot.'),
        keys: z.array(z.string()).optional().describe('Extra SSH public keys.'),
        files: z.array(z.record(z.string(), kcliValue)).optional().describe('kcli file objects ({path, content}).'),
      })
      .optional(),
    start: z.boolean().default(true),
    params: z.record(z.string(), kcliValue).optional().describe('Any other kcli VM parameter (kcli -P key=value), e.g. {virttype: qemu}.'),
    ifExists,
    client,
  })
  .refine((input) => !(input.image !== undefined && input.profile !== undefined), { message: 'give image or profile, not both', path: ['profile'] })
  .superRefine((input, ctx) => {
    for (const field of ['cloudInit', 'params'] as const) {
      const problem = kcliTemplateProblem(input[field]);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [field] });
      const keys = keyProblems(input[field]?.keys);
      if (keys !== undefined) ctx.addIssue({ code: 'custom', message: keys, path: [field, 'keys'] });
    }
  });

export const KcliVmNameInput = z.strictObject({ name, client });
export const KcliVmDeleteInput = z.strictObject({ name, ifMissing, client });
export const KcliVmInfoInput = z.strictObject({
  name,
  waitForIp: Duration.optional().describe('Poll until the VM reports an IP address, up to this long.'),
  client,
});
export const KcliVmListInput = z.strictObject({ client });

export const KcliPlanCreateInput = z.strictObject({
  plan: name.describe('Plan name (what kcli delete plan takes).'),
  file: z.string().min(1).refine((value) => !value.split('/').includes('..'), 'must stay inside the DAG repository').describe('Plan file in the DAG repository, or absolute.'),
  params: z.record(z.string(), kcliValue).optional().describe('Plan parameters (kcli -P key=value).'),
  ifExists,
  client,
});
export const KcliPlanDeleteInput = z.strictObject({ plan: name, ifMissing, client });

export const KcliNetworkCreateInput = z.strictObject({
  name,
  cidr: z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'a CIDR such as 192.168.150.0/24').describe('Network address and prefix.'),
  nat: z.boolean().default(true).describe('NAT to the outside (false: isolated).'),
  dhcp: z.boolean().default(true),
  domain: z.string().min(1).optional(),
  ifExists: z.enum(['skip', 'fail']).default('skip'),
  client,
});
export const KcliNetworkDeleteInput = z.strictObject({ name, ifMissing, client });

export const KcliPoolCreateInput = z.strictObject({
  name,
  path: z.string().regex(/^\//, 'an absolute directory path'),
  ifExists: z.enum(['skip', 'fail']).default('skip'),
  client,
});
export const KcliPoolDeleteInput = z.strictObject({ name, ifMissing, client });

export type KcliVmCreateInput = z.infer<typeof KcliVmCreateInput>;
