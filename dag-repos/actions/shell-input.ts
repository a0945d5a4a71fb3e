// Pure schema module: the action registry imports it, so no side effects and no heavy imports.
import { z } from 'zod';
import { Duration } from '../schema/dag-spec';


/** Inputs of the `shell` action: run an argv command (no shell) or a script (through a shell). */
export const ShellInput = z
  .strictObject({
    command: z
      .array(z.string())
      .min(1, 'must name a program')
      .optional()
      .describe('Program and arguments, run without a shell. Give exactly one of command or script.'),
    script: z
      .string()
      .min(1, 'must not be empty')
      .optional()
      .describe(
        'Script text, run with `<shell> -c`; bash, zsh and ksh run it with -euo pipefail. A `${{ }}` in a script never becomes shell code: ' +
          'the compiler passes its value in an environment variable (QN_EXPR_1, …) and the script reads that variable. ' +
          'Expressions inside single quotes, quoted here-documents or shell arithmetic are refused, as are expressions with a non-POSIX shell.',
      ),
    shell: z.string().min(1).optional().describe('Shell for script; default /bin/bash. Written literally, never by an expression.'),
    env: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .optional()
      .describe(
        'Extra environment variables (numbers and booleans become their text). This is how values reach a script as data: ' +
          'env: {TARGET: "${{ params.target }}"}, then "$TARGET" in the script. Values of keys containing TOKEN, SECRET, PASSWORD, PASSWD, KEY or CREDENTIAL are redacted from logs and results.',
      ),
    cwd: z.string().min(1).optional().describe('Working directory; must exist.'),
    timeout: Duration.optional().describe('Kill the whole process group after this long, e.g. 30s, 5m, 1h.'),
    successCodes: z
      .array(z.number().int().min(0).max(255))
      .min(1)
      .default([0])
      .describe('Exit codes that count as success; default [0].'),
  })
  .superRefine((input, ctx) => {
    const hasCommand = input.command !== undefined;
    const hasScript = input.script !== undefined;
    if (hasCommand === hasScript) {
      ctx.addIssue({
        code: 'custom',
        message: hasCommand ? 'give either command or script, not both' : 'give exactly one of command or script',
        path: [],
      });
    }
    if (input.shell !== undefined && !hasScript) {
      ctx.addIssue({ code: 'custom', message: 'shell only applies to script', path: ['shell'] });
    }
  });

export type ShellInput = z.infer<typeof ShellInput>;
