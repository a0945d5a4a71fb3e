import type { Command } from 'commander';
import {
  addUser,
  BOOTSTRAP_USER,
  DEFAULT_TOKEN_LIFETIME,
  issueToken,
  readIdentity,
  removeUser,
  revokeToken,
  ROLES,
  setUserDisabled,
  setUserRoles,
  tokenViews,
  type IdentityStore,
} from '../../client/identity';
import { audited } from '../local-audit';
import { CliError, type CliContext } from '../context';
import { table } from '../output';

/** Roles given as arguments or comma lists: `admin operator` or `admin,operator`. */
function parseRoles(given: readonly string[]): string[] {
  const roles = given.flatMap((item) => item.split(',')).map((role) => role.trim()).filter(Boolean);
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length) throw new CliError(`roles: ${unknown.length ? `unknown ${unknown.map((role) => `"${role}"`).join(', ')}; ` : ''}use ${ROLES.join(', ')}`, 2);
  return roles;
}

async function store(context: CliContext): Promise<IdentityStore> {
  const { client } = await context.temporal();
  return { client, workflowId: context.config.identity.workflowId, taskQueue: context.config.taskQueue };
}

/** `qubinode user …` and `qubinode token …`: the people who may call the API, and their personal tokens. */
export function registerIdentityCommands(program: Command, context: CliContext): void {
  const user = program.command('user').description(`API users and their roles (${ROLES.join(', ')}); the shared API token acts as ${BOOTSTRAP_USER}`);

  user
    .command('add')
    .description('Add a user with one or more roles')
    .argument('<name>', 'user name (letters, digits, ".", "_", "@", "-")')
    .argument('<roles...>', `roles: ${ROLES.join(', ')}`)
    .action(async (name: string, roles: string[]) => {
      const wanted = parseRoles(roles);
      const added = await audited(context, { action: 'user.add', target: `user/${name}` }, async () => addUser(await store(context), name, wanted), (record) => `roles ${record.roles.join(',')}`);
      console.log(`added ${added.name} (${added.roles.join(', ')})`);
    });

  user
    .command('roles')
    .description("Replace a user's roles")
    .argument('<name>')
    .argument('<roles...>', `roles: ${ROLES.join(', ')}`)
    .action(async (name: string, roles: string[]) => {
      const wanted = parseRoles(roles);
      const changed = await audited(context, { action: 'user.change', target: `user/${name}` }, async () => setUserRoles(await store(context), name, wanted), (record) => `roles ${record.roles.join(',')}`);
      console.log(`${changed.name}: ${changed.roles.join(', ')}`);
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(verb)
      .description(disabled ? "Refuse a user's tokens without removing the user" : 'Accept a disabled user again')
      .argument('<name>')
      .action(async (name: string) => {
        const changed = await audited(context, { action: 'user.change', target: `user/${name}`, detail: verb }, async () => setUserDisabled(await store(context), name, disabled));
        console.log(`${changed.name}: ${changed.disabled ? 'disabled' : 'enabled'}`);
      });
  }

  user
    .command('remove')
    .description('Remove a user and revoke all their tokens')
    .argument('<name>')
    .action(async (name: string) => {
      const removed = await audited(context, { action: 'user.remove', target: `user/${name}` }, async () => removeUser(await store(context), name), (result) => `revoked tokens ${result.revokedTokens.join(',') || 'none'}`);
      console.log(`removed ${removed.removed}; revoked ${removed.revokedTokens.length} token(s)`);
    });

  user
    .command('list')
    .description('List users')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { users } = await readIdentity(await store(context));
      if (options.json) console.log(JSON.stringify(users, null, 2));
      else if (users.length === 0) console.log(`no users yet; add one with \`qubinode user add NAME ROLE...\` (the shared API token acts as ${BOOTSTRAP_USER})`);
      else console.log(table(['USER', 'ROLES', 'STATE', 'CREATED'], users.map((entry) => [entry.name, entry.roles.join(','), entry.disabled ? 'disabled' : 'active', entry.created])));
    });

  const token = program.command('token').description('Personal API tokens: shown once when issued, stored only as a hash, always with an expiry');

  token
    .command('issue')
    .description('Issue a token for a user and print it once')
    .requiredOption('--user <name>', 'whose token')
    .option('--expires <lifetime>', 'lifetime such as 30d, 12h or 90m (at most 366d)', DEFAULT_TOKEN_LIFETIME)
    .option('--description <text>', 'what the token is for')
    .option('--json', 'print as JSON')
    .action(async (options: { user: string; expires: string; description?: string; json?: boolean }) => {
      const issued = await audited(
        context,
        { action: 'token.issue', target: `user/${options.user}` },
        async () => issueToken(await store(context), { user: options.user, lifetime: options.expires, ...(options.description ? { description: options.description } : {}) }),
        (result) => `token ${result.record.id} expires ${result.record.expires}`,
      );
      const { hash: _hash, ...record } = issued.record;
      if (options.json) console.log(JSON.stringify({ ...record, token: issued.token }, null, 2));
      else console.log(`token ${record.id} for ${record.user}, expires ${record.expires}\n\n  ${issued.token}\n\nShown once: store it now (send it as "Authorization: Bearer <token>").`);
    });

  token
    .command('list')
    .description('List tokens (never the tokens themselves)')
    .option('--user <name>', 'only this user')
    .option('--json', 'print as JSON')
    .action(async (options: { user?: string; json?: boolean }) => {
      const views = tokenViews(await readIdentity(await store(context)), options.user ? { user: options.user } : {});
      if (options.json) console.log(JSON.stringify(views, null, 2));
      else if (views.length === 0) console.log('no tokens');
      else console.log(table(['ID', 'USER', 'STATE', 'EXPIRES', 'CREATED', 'DESCRIPTION'], views.map((view) => [view.id, view.user, view.state, view.expires, view.created, view.description ?? ''])));
    });

  token
    .command('revoke')
    .description('Revoke a token at once (the API refuses it within seconds)')
    .argument('<id>', 'token id from `qubinode token list`')
    .action(async (id: string) => {
      const revoked = await audited(context, { action: 'token.revoke', target: `token/${id}` }, async () => revokeToken(await store(context), id), (record) => `of user ${record.user}`);
      console.log(`revoked token ${revoked.id} of ${revoked.user}`);
    });
}
