import type { FactContext } from '../plugin-api';

export type HostEnvironment = 'local' | 'hetzner' | 'equinix';

export interface EnvironmentFacts {
  kind: HostEnvironment;
  /** How it was decided: "QUBINODE_ENVIRONMENT", "dmi:sys_vendor", "cloud-init", or "default". */
  source: string;
  vendor?: string;
  product?: string;
}

const KINDS: readonly HostEnvironment[] = ['local', 'hetzner', 'equinix'];

/**
 * Where the host runs. An explicit QUBINODE_ENVIRONMENT wins; then DMI strings (Hetzner Cloud sets
 * sys_vendor "Hetzner"; Equinix Metal, formerly Packet, shows in asset tags and cloud-init data);
 * otherwise "local". Dedicated Hetzner servers carry the board maker's DMI, so they need the setting.
 */
export function detectEnvironment(ctx: FactContext): EnvironmentFacts {
  const dmi = (name: string): string | undefined => ctx.readFile(`sys/class/dmi/id/${name}`)?.trim() || undefined;
  const vendor = dmi('sys_vendor');
  const product = dmi('product_name');
  const described = { ...(vendor === undefined ? {} : { vendor }), ...(product === undefined ? {} : { product }) };
  const explicit = ctx.env.QUBINODE_ENVIRONMENT?.toLowerCase();
  if (explicit !== undefined && explicit !== '') {
    if (!KINDS.includes(explicit as HostEnvironment)) throw new Error(`QUBINODE_ENVIRONMENT: "${explicit}" is not one of ${KINDS.join(', ')}`);
    return { kind: explicit as HostEnvironment, source: 'QUBINODE_ENVIRONMENT', ...described };
  }
  for (const field of ['sys_vendor', 'product_name', 'board_vendor', 'chassis_vendor', 'chassis_asset_tag', 'board_asset_tag']) {
    const value = dmi(field)?.toLowerCase() ?? '';
    if (value.includes('hetzner')) return { kind: 'hetzner', source: `dmi:${field}`, ...described };
    if (value.includes('equinix') || value.includes('packet')) return { kind: 'equinix', source: `dmi:${field}`, ...described };
  }
  const instanceData = ctx.readFile('run/cloud-init/instance-data.json')?.toLowerCase() ?? '';
  if (/"(platform|cloud_name)":\s*"hetzner"/.test(instanceData)) return { kind: 'hetzner', source: 'cloud-init', ...described };
  if (/"(platform|cloud_name)":\s*"(equinix|packet)[^"]*"/.test(instanceData)) return { kind: 'equinix', source: 'cloud-init', ...described };
  return { kind: 'local', source: 'default', ...described };
}
