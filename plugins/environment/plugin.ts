import type { QubinodePlugin } from '../plugin-api';
import { detectEnvironment } from './detect';

/** Environment plugin: local, Hetzner or Equinix Metal host. */
export const plugin: QubinodePlugin = {
  name: 'environment',
  description: 'Where the host runs: local, Hetzner or Equinix Metal (DMI / cloud-init data, or QUBINODE_ENVIRONMENT)',
  facts: (ctx) => ({ ...detectEnvironment(ctx) }),
};
