import type { Severity } from '../schema/findings';
import { compileLinearRegex, type LinearRegex } from '../schema/linear-regex';

/** The scanner's rule table: ids, severities and patterns. Data, so a reviewer sees every rule in one place. */



export const SECRET_PATTERNS: readonly { rule: string; severity: Severity; pattern: RegExp; what: string }[] = [
  { rule: 'private-key', severity: 'high', pattern: /-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----/, what: 'a private key' },
  { rule: 'cloud-access-key', severity: 'high', pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/, what: 'an AWS access key id' },
  { rule: 'token', severity: 'high', pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/, what: 'a GitHub token' },
  { rule: 'token', severity: 'high', pattern: /\bglpat-[A-Za-z0-9_-]{20,}\b/, what: 'a GitLab token' },
  { rule: 'token', severity: 'high', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/, what: 'a Slack token' },
];

/** Keys whose literal values are credentials. */
export const CREDENTIAL_KEY = /(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential)s?$/i;

// Scripts come from pushed repositories and can be long; these rules run on RE2 so no script can make them backtrack for minutes.
const linear = (pattern: RegExp): LinearRegex => compileLinearRegex(pattern.source);

export const DANGEROUS_COMMANDS: readonly { severity: Severity; pattern: LinearRegex; what: string }[] = [
  { severity: 'high', pattern: linear(/\brm\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*r[a-zA-Z]*\s+(-[a-zA-Z-]+\s+)*(--no-preserve-root\s+)?\/(\*)?(\s|$|;|&|\|)/), what: 'rm -r of the root directory' },
  { severity: 'high', pattern: linear(/\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b/), what: 'piping a download into a shell' },
  { severity: 'high', pattern: linear(/\bmkfs(\.\w+)?\b/), what: 'formatting a filesystem (mkfs)' },
  { severity: 'high', pattern: linear(/\bdd\b[^;&|]*\bof=\/dev\/(sd|vd|hd|nvme|xvd|mapper)/), what: 'dd onto a block device' },
  { severity: 'high', pattern: linear(/\bchmod\s+(-[a-zA-Z]*R[a-zA-Z]*\s+)777\s+\/(\s|$)/), what: 'chmod -R 777 /' },
  { severity: 'high', pattern: linear(/:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:/), what: 'a fork bomb' },
  { severity: 'high', pattern: linear(/>\s*\/dev\/(sd|vd|hd|nvme)[a-z0-9]*\b/), what: 'writing straight to a disk device' },
  { severity: 'medium', pattern: linear(/\bsetenforce\s+0\b/), what: 'turning SELinux off (setenforce 0)' },
  { severity: 'medium', pattern: linear(/\bsystemctl\s+(stop|disable)\s+firewalld\b/), what: 'turning the firewall off' },
];

/** `with` keys that name files inside the DAG repository. */
export const REPO_PATH_KEYS = ['playbook', 'plan', 'file', 'inventoryFile', 'vars_file'];
