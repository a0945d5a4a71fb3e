import { lstatSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ActionRegistry } from '../../dag-repos/actions/registry';
import { readDagId, yamlFilesUnder } from '../../dag-repos/catalog/local-catalog';
import { checkCatalogFile, readDagFileText } from '../../dag-repos/catalog/catalog-file';
import type { DagFile } from '../../dag-repos/compiler/compile';
import type { CompiledDag } from '../../dag-repos/compiler/compiled-dag';
import { formatDiagnostic } from '../../dag-repos/compiler/diagnostics';
import { credentialEnvOf, type RepoConfig } from '../../dag-repos/schema/repo-config';
import type { FileProblem, SyncOutcome } from '../../dag-repos/schema/sync-types';
import { realPath, realPathInside } from '../../dag-repos/security/real-paths';
import { scanDagText, scanRepositoryTree } from '../../dag-repos/security/scanner';
import { blockingFindings, formatFinding, type Finding } from '../../dag-repos/schema/findings';
import type { GitCache } from './git/git-cache';
import type { PendingException, PolicyForRepo, RepoPolicy } from '../../dag-repos/schema/repo-policy';
import { checkDagPolicy } from '../../dag-repos/security/policy-files';
import { commitAuthor, verifyCommitSignature } from './git/commit-trust';
import { pendingExceptions, type Allowance } from './security-exceptions';

export interface GitSyncDeps {
  cache: GitCache;
  registry: ActionRegistry;
  /** Repository policies (docs/repo-policy.md): read before a commit is judged; exceptions found are recorded there. */
  policy?: {
    policyFor(repo: string): Promise<PolicyForRepo>;
    recordExceptions(found: PendingException[]): Promise<void>;
  };
}

export interface SyncRequest {
  config: RepoConfig;
  /** The commit currently live, if any. */
  activeCommit?: string;
}

/**
 * The DAG files of a checkout that really lie inside it: the folder and every file are judged by the
 * real path the file system resolves, so a symlinked folder or file that leads out is never read.
 */
function dagFilesInside(root: string, config: RepoConfig): { realRoot: string; files: string[]; problems: FileProblem[] } {
  const realRoot = realPath(root) ?? root;
  const dagDir = path.join(realRoot, config.path);
  const realDir = realPathInside(realRoot, dagDir);
  if (realDir === undefined) {
    const exists = realPath(dagDir) !== undefined;
    const problem = exists ? `${config.path}/: resolves outside the repository (a symlink?); DAG files must live inside it` : `${config.path}/: no such folder at this commit (set --path to the folder holding the DAG files)`;
    return { realRoot, files: [], problems: [{ file: config.path, problems: [problem] }] };
  }
  if (!statSync(realDir).isDirectory()) return { realRoot, files: [], problems: [{ file: config.path, problems: [`${config.path}/: is not a folder`] }] };
  const files: string[] = [];
  const problems: FileProblem[] = [];
  for (const absolute of yamlFilesUnder(realDir)) {
    const real = realPathInside(realRoot, absolute);
    if (real === undefined || !lstatSync(real).isFile()) problems.push({ file: path.relative(realRoot, absolute), problems: [`${path.relative(realRoot, absolute)}: not a regular file inside the repository; not read`] });
    else files.push(real);
  }
  return { realRoot, files, problems };
}

/**
 * Reads, compiles and scans every DAG file of a checked-out commit; with a policy, a DAG that breaks it
 * is that file's error. `allowances` are the findings a task's `securityAllow` accepts, with the task's text.
 */
export function checkCommitTree(
  root: string,
  config: RepoConfig,
  commit: string,
  registry: ActionRegistry,
  policy?: RepoPolicy,
): { dags: CompiledDag[]; errors: FileProblem[]; findings: Finding[]; allowances: Allowance[] } {
  const allowances: Allowance[] = [];
  const findings = scanRepositoryTree(root);
  const { realRoot, files: found, problems } = dagFilesInside(root, config);
  if (found.length === 0 && problems.length > 0) return { dags: [], errors: problems, findings, allowances };
  const files = new Map<string, DagFile>();
  const errors: FileProblem[] = [...problems];
  for (const absolute of found) {
    const read = readDagFileText(absolute, path.relative(realRoot, absolute));
    // A file too large, not UTF-8 or unreadable is that file's error; the other DAGs still sync.
    if (!read.ok) {
      errors.push({ file: read.diagnostic.file, problems: [formatDiagnostic(read.diagnostic)] });
      continue;
    }
    const file: DagFile = { repo: config.name, path: path.relative(realRoot, absolute), commit, text: read.text };
    files.set(`${config.name}/${readDagId(read.text) ?? file.path}`, file);
  }
  const context = { registry, resolveDag: (ref: string) => files.get(ref) };
  const dags: CompiledDag[] = [];
  for (const file of files.values()) {
    const result = checkCatalogFile(file, context);
    const fileFindings = scanDagText(file, result.spec);
    findings.push(...fileFindings);
    for (const finding of fileFindings) {
      const task = finding.allowedBecause !== undefined && finding.task ? result.spec?.tasks.find((candidate) => candidate.id === finding.task) : undefined;
      if (task) allowances.push({ finding, taskText: JSON.stringify(task) });
    }
    const refused = policy && result.dag && result.spec ? checkDagPolicy(file, result.spec, result.dag, policy, config.name) : [];
    if (refused.length) errors.push({ file: file.path, problems: refused.map(formatDiagnostic) });
    else if (result.dag) {
      const credentialEnv = credentialEnvOf(config);
      dags.push({ ...result.dag, origin: { ...result.dag.origin, url: config.url, ...(Object.keys(credentialEnv).length ? { credentialEnv } : {}) } });
    }
    else errors.push({ file: file.path, problems: result.diagnostics.map(formatDiagnostic) });
  }
  const ids = new Map<string, string>();
  for (const dag of dags) {
    const other = ids.get(dag.catalogId);
    if (other) errors.push({ file: dag.origin.path, problems: [`${dag.origin.path}: DAG id "${dag.id}" is also used by ${other}`] });
    ids.set(dag.catalogId, dag.origin.path);
  }
  return { dags, errors, findings, allowances };
}

/** The `syncRepository` activity: fetch, pin the branch's commit, materialise it, validate and scan every DAG. */
export function createGitSyncActivities(deps: GitSyncDeps) {
  return {
    async syncRepository(request: SyncRequest): Promise<SyncOutcome> {
      const started = Date.now();
      const { config } = request;
      const heartbeat = (stage: string): void => Context.current().heartbeat({ stage });
      heartbeat('fetch');
      const mirror = await deps.cache.fetch(config.url, { name: config.name, forge: config.forge, ...credentialEnvOf(config) });
      const commit = await deps.cache.branchCommit(mirror, config.branch);
      const base = { branch: config.branch, dags: [], errors: [], findings: [], changedPaths: [] };
      if (!commit) {
        return { ...base, state: 'rejected', commit: '', message: `branch "${config.branch}" does not exist (deleted?); the last good commit stays live`, durationMs: Date.now() - started };
      }
      if (commit === request.activeCommit) {
        return { ...base, state: 'unchanged', commit, message: `already at ${commit.slice(0, 12)}`, durationMs: Date.now() - started };
      }
      const policy = deps.policy ? await deps.policy.policyFor(config.name) : undefined;
      const signers = policy?.policy?.signedCommits;
      if (signers) {
        heartbeat('verify signature');
        const verdict = await verifyCommitSignature(mirror, commit, signers);
        if (!verdict.ok) {
          const message = `commit ${commit.slice(0, 12)} rejected: the ${policy.source} policy of ${config.name} requires commits signed by ${signers.map((signer) => signer.name).join(', ')}, and ${verdict.reason}`;
          return { ...base, state: 'rejected', commit, message, errors: [{ file: '.', problems: [message] }], durationMs: Date.now() - started };
        }
      }
      // An unsigned commit is refused before a file of it is extracted.
      heartbeat('materialise');
      const root = await deps.cache.materialise(mirror, commit);
      heartbeat('validate');
      const { dags, errors, findings, allowances } = checkCommitTree(root, config, commit, deps.registry, policy?.policy);
      if (policy?.policy && policy.policy.approveExceptions !== false && allowances.length) {
        // An exception written in the commit counts only once someone other than its author approved it.
        const pending = pendingExceptions({ repo: config.name, commit, author: await commitAuthor(mirror, commit), allowances, approved: policy.approvedExceptions });
        if (pending.length) await deps.policy?.recordExceptions(pending);
      }
      const changed = request.activeCommit ? await deps.cache.changedPaths(mirror, request.activeCommit, commit) : undefined;
      const blocking = blockingFindings(findings);
      const rejected = errors.length > 0 || blocking.length > 0;
      const message = rejected
        ? `commit ${commit.slice(0, 12)} rejected: ${errors.length} invalid file(s), ${blocking.length} blocking security finding(s)${blocking[0] ? `; first: ${formatFinding(blocking[0])}` : errors[0] ? `; first: ${errors[0].problems[0] ?? ''}` : ''}`
        : `commit ${commit.slice(0, 12)} accepted: ${dags.length} DAG(s)`;
      return {
        state: rejected ? 'rejected' : 'accepted',
        commit,
        branch: config.branch,
        message,
        dags: rejected ? [] : dags,
        errors,
        findings,
        changedPaths: changed ?? dags.map((dag) => dag.origin.path),
        durationMs: Date.now() - started,
      };
    },
  };
}
