import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { findTool } from '../../config/tool-paths';

export interface KcliSandbox {
  /** HOME and KCLI_CONFIG for kcli: a private config whose default client is the local libvirtd. */
  env: NodeJS.ProcessEnv;
  dir: string;
}

/**
 * Makes a real libvirtd available (infra/setup-libvirt.sh installs and starts it when root on Debian)
 * and a private kcli config. Returns a skip reason instead when this machine cannot run it.
 */
export async function kcliSandbox(): Promise<KcliSandbox | { skip: string }> {
  if (findTool('kcli') === undefined) return { skip: 'kcli is not installed (bash infra/setup.sh; it needs libvirt-dev)' };
  const setup = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('bash', [path.join(PROJECT_ROOT, 'infra', 'setup-libvirt.sh')], { timeout: 600_000 }, (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }));
  });
  if (setup.code !== 0) return { skip: `no libvirtd here: ${setup.stderr.trim().split('\n').at(-1) ?? `setup-libvirt.sh exit ${setup.code}`}` };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qubinode-kcli-'));
  // QEMU runs as libvirt-qemu: it must reach disk images in pools under this directory.
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'home'));
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, 'default:\n  client: local\nlocal:\n  type: kvm\n');
  return { env: { ...process.env, HOME: path.join(dir, 'home'), KCLI_CONFIG: config }, dir };
}
