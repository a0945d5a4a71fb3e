import type { Command } from 'commander';
import type { Role } from '../../client/identity';
import { BOOTSTRAP_USER, DEFAULT_TOKEN_LIFETIME, ROLES } from '../../client/identity-names';
import { CliError, type CliContext } from '../context';
import { table } from '../output';

/** Roles given as arguments or comma lists: `admin operator` or `admin,operator`. */
function parseRoles(given: readonly string[]): Role[] {
  const roles = given.flatMap((item) => item.split(',')).map((role) => role.trim()).filter(Boolean);
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length) throw new CliError(`roles: ${unknown.length ? `unknown ${unknown.map((role) => `"${role}"`).join(', ')}; ` : ''}use ${ROLES.join(', ')}`, 2);
  return roles as Role[];
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
      const added = await context.backend().addUser(name, wanted);
      console.log(`added ${added.name} (${added.roles.join(', ')})`);
    });

  user
    .command('roles')
    .description("Replace a user's roles")
    .argument('<name>')
    .argument('<roles...>', `roles: ${ROLES.join(', ')}`)
    .action(async (name: string, roles: string[]) => {
      const wanted = parseRoles(roles);
      const changed = await context.backend().changeUser(name, { roles: wanted });
      console.log(`${changed.name}: ${changed.roles.join(', ')}`);
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(verb)
      .description(disabled ? "Refuse a user's tokens without removing the user" : 'Accept a disabled user again')
      .argument('<name>')
      .action(async (name: string) => {
        const changed = await context.backend().changeUser(name, { disabled });
        console.log(`${changed.name}: ${changed.disabled ? 'disabled' : 'enabled'}`);
      });
  }

  user
    .command('remove')
    .description('Remove a user and revoke all their tokens')
    .argument('<name>')
    .action(async (name: string) => {
      const removed = await context.backend().removeUser(name);
      console.log(`removed ${removed.removed}; revoked ${removed.revokedTokens.length} token(s)`);
    });

  user
    .command('list')
    .description('List users')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const users = await context.backend().users();
      if (options.json) console.log(JSON.stringify(users, null, 2));
      else if (users.length === 0) console.log(`no users yet; add one with \`qubinode user add NAME ROLE...\` (the shared API token acts as ${BOOTSTRAP_USER})`);
      else console.log(table(['USER', 'ROLES', 'STATE', 'CREATED'], users.map((entry) => [entry.name, entry.roles.join(','), entry.disabled ? 'disabled' : 'active', entry.created])));
    });

  program
    .command('whoami')
    .description('Who the CLI acts as: the token\'s user and roles through the API, or the OS user with direct Temporal access')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const backend = context.backend();
      const identity = await backend.whoami();
      if (options.json) console.log(JSON.stringify({ ...identity, mode: backend.mode }, null, 2));
      else console.log(`${identity.user} (${identity.roles.join(', ')}) via ${identity.via}${backend.mode === 'api' ? ` at ${context.config.remoteApi?.url ?? ''}` : ', Temporal directly'}`);
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
      const { record, token: issued } = await context.backend().issueToken({ user: options.user, lifetime: options.expires, ...(options.description ? { description: options.description } : {}) });
      if (options.json) console.log(JSON.stringify({ ...record, token: issued }, null, 2));
      else console.log(`token ${record.id} for ${record.user}, expires ${record.expires}\n\n  ${issued}\n\nShown once: store it now (send it as "Authorization: Bearer <token>").`);
    });

  token
    .command('list')
    .description('List tokens (never the tokens themselves)')
    .option('--user <name>', 'only this user')
    .option('--json', 'print as JSON')
    .action(async (options: { user?: string; json?: boolean }) => {
      const views = await context.backend().tokens(options.user ? { user: options.user } : {});
      if (options.json) console.log(JSON.stringify(views, null, 2));
      else if (views.length === 0) console.log('no tokens');
      else console.log(table(['ID', 'USER', 'STATE', 'EXPIRES', 'CREATED', 'DESCRIPTION'], views.map((view) => [view.id, view.user, view.state, view.expires, view.created, view.description ?? ''])));
    });

  token
    .command('revoke')
    .description('Revoke a token at once (the API refuses it within seconds)')
    .argument('<id>', 'token id from `qubinode token list`')
    .action(async (id: string) => {
      const revoked = await context.backend().revokeToken(id);
      console.log(`revoked token ${revoked.id} of ${revoked.user}`);
    });
}
