// What an operator hands the policy commands (a repository name, a policy file), checked as the policy
// store and a repository sync check them.
export { PolicyRepoName, RepoPolicy } from '../dag-repos/schema/repo-policy';
export { parsePolicyText, POLICY_FILE_MAX_BYTES } from '../dag-repos/security/policy-files';
