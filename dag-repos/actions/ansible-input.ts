// Pure schema module: the action registry imports it, so no side effects and no heavy imports.
import { z } from 'zod';
import { Duration } from '../schema/dag-spec';
import { parseSecretUri, SECRET_URI_FORMS } from '../schema/secret-uri';

/** Inputs of `ansible.playbook`. */
export const AnsiblePlaybookInput = z
  .strictObject({
    playbook: z
      .string()
      .min(1)
      .refine((value) => !value.split('/').includes('..'), 'must stay inside the DAG repository (no "..")')
      .describe('Playbook path inside the DAG repository, or an absolute path on the worker.'),
    inventory: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Inventory file in the DAG repository (or absolute), or an inline host list such as "localhost," or ["web1", "web2"].'),
    extraVars: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Extra variables, written to a private temp file (never on the command line); values may be secret:// references.'),
    limit: z.string().min(1).optional().describe('Host pattern passed as --limit.'),
    tags: z.union([z.string().min(1), z.array(z.string().min(1))]).optional().describe('Only run tasks with these tags.'),
    skipTags: z.union([z.string().min(1), z.array(z.string().min(1))]).optional().describe('Skip tasks with these tags.'),
    check: z.boolean().default(false).describe('Check mode: report what would change without changing it.'),
    diff: z.boolean().default(false).describe('Show diffs of changed files.'),
    vaultPasswordSecret: z
      .string()
      .superRefine((text, ctx) => {
        const parsed = parseSecretUri(text);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: text.startsWith('secret:') ? parsed.problem : `must be a secret reference: ${SECRET_URI_FORMS}` });
      })
      .optional()
      .describe('Vault password as a secret reference; written to a private temp file for --vault-password-file.'),
    executionEnvironment: z
      .strictObject({ image: z.string().min(1), pull: z.enum(['always', 'missing', 'never', 'tag']).default('missing') })
      .optional()
      .describe('Run inside this execution-environment image (needs podman and ansible-navigator); default: no container.'),
    runner: z
      .enum(['auto', 'ansible-navigator', 'ansible-playbook'])
      .default('auto')
      .describe('auto: ansible-navigator when installed, else ansible-playbook.'),
    env: z.record(z.string(), z.string()).optional().describe('Extra environment variables (e.g. ANSIBLE_* settings).'),
    timeout: Duration.optional().describe('Kill the run after this long.'),
  });
export type AnsiblePlaybookInput = z.infer<typeof AnsiblePlaybookInput>;
