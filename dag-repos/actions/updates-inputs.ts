// Pure schema module: the action registry imports it, so no side effects and no heavy imports.
import { z } from 'zod';

/**
 * The apt settings a task may give, as `-o Key=Value` arguments: only where apt reads its sources and
 * keeps its lists and caches, so a host can be updated from a repository of its own without touching
 * the machine's apt state. Settings that name programs or commands (DPkg::Pre-Invoke,
 * APT::Update::Post-Invoke, Dir::Bin::*, Acquire::*::Proxy-Auto-Detect, ...) are refused: their value
 * would run as root.
 */
export const APT_OPTION_KEYS = [
  'Dir::Etc::SourceList',
  'Dir::Etc::SourceParts',
  'Dir::Etc::Preferences',
  'Dir::Etc::PreferencesParts',
  'Dir::State',
  'Dir::State::Lists',
  'Dir::State::extended_states',
  'Dir::Cache',
  'Dir::Cache::Archives',
  'Dir::Cache::pkgcache',
  'Dir::Cache::srcpkgcache',
] as const;

const KNOWN_KEYS = new Map(APT_OPTION_KEYS.map((key) => [key.toLowerCase(), key]));

/** apt reads setting names without regard to case; the canonical spelling, or undefined for a setting not allowed. */
export function aptOptionKey(key: string): string | undefined {
  return KNOWN_KEYS.get(key.toLowerCase());
}

// An absolute path, one line, no NUL: apt reads `-o Key=Value` up to the end of the argument.
const AptPath = z
  .string()
  .max(1024)
  .regex(/^\/[^\0\n\r]*$/, { message: 'an absolute path on one line' });

export const AptOptions = z
  .record(z.string(), AptPath)
  .superRefine((options, ctx) => {
    for (const key of Object.keys(options)) {
      if (aptOptionKey(key) === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `apt setting "${key.slice(0, 80)}" is not allowed; allowed: ${APT_OPTION_KEYS.join(', ')}` });
    }
  })
  .describe('apt settings (where sources, lists and caches are), passed as -o Key=Value; only directory and file settings are allowed.');
export type AptOptions = z.infer<typeof AptOptions>;

/** A Debian or RPM package name (Debian: optionally `:arch`); never starts with "-", so it is never read as an option. */
export const PackageName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]*(:[a-z0-9-]+)?$/, { message: 'a package name: letters, digits and _ . + -, not starting with "-" (Debian: optionally :arch)' });

export const PackageNames = z.array(PackageName).max(1000);

export const UpdatesDetectInput = z.strictObject({
  manager: z.enum(['auto', 'dnf', 'apt']).default('auto').describe('Package manager; auto picks dnf, else apt.'),
  outputFile: z.string().optional().describe('Parse this saved `dnf check-update`/`apt list --upgradable`/`apt-get -s dist-upgrade` output instead of running the command (stand-in hosts, tests); empty means run it.'),
  securityFile: z.string().optional().describe('Saved `dnf updateinfo list --security` output, for dnf security classification.'),
  packages: PackageNames.default([]).describe('Report only updates of these packages; empty: every available update.'),
  refresh: z.boolean().default(false).describe('apt: run `apt-get update` first, so the lists are current (needs root). dnf refreshes expired metadata by itself.'),
  aptOptions: AptOptions.default({}),
});
export type UpdatesDetectInput = z.infer<typeof UpdatesDetectInput>;

export const UpdatesApplyInput = z.strictObject({
  manager: z.enum(['auto', 'dnf', 'apt']).default('auto').describe('Package manager; auto picks dnf, else apt.'),
  packages: PackageNames.min(1).describe('The packages to update (an allow-list): only these, and what their new versions need, change.'),
  aptOptions: AptOptions.default({}),
});
export type UpdatesApplyInput = z.infer<typeof UpdatesApplyInput>;

/** A package version as dpkg or rpm write it ([epoch:]version[-release]); starts with a digit, so never an option. */
export const PackageVersion = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[0-9][A-Za-z0-9.+~:_-]*$/, { message: 'a package version: starts with a digit; letters, digits and . + ~ : _ -' });

export const UpdatesRevertInput = z.strictObject({
  manager: z.enum(['auto', 'dnf', 'apt']).default('auto').describe('Package manager; auto picks dnf, else apt.'),
  packages: z
    .array(z.strictObject({ name: PackageName, from: PackageVersion, to: PackageVersion.optional() }))
    .max(1000)
    .describe('What updates.apply updated (its `updated` output): each package goes back to its `from` version.'),
  aptOptions: AptOptions.default({}),
});
export type UpdatesRevertInput = z.infer<typeof UpdatesRevertInput>;
