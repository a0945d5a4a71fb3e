import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';

/**
 * Secret references: a value that is exactly `secret://env/NAME` or `secret://file/PATH` is
 * replaced inside the activity, so only the reference travels through workflow history.
 * The resolved values come back too, for redaction from logs and results.
 */
const SECRET_REF = /^secret:\/\/(env|file)\/(.+)$/;

export const SECRET_NOT_FOUND = 'SecretNotFound';

function resolveOne(kind: string, name: string, env: NodeJS.ProcessEnv): string {
  if (kind === 'env') {
    const value = env[name];
    if (value === undefined || value === '') throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `secret://env/${name}: environment variable ${name} is not set on the worker` });
    return value;
  }
  try {
    return readFileSync(name, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `secret://file/${name}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}` });
  }
}

export function resolveSecretRefs<T>(value: T, env: NodeJS.ProcessEnv = process.env): { value: T; secrets: string[] } {
  const secrets: string[] = [];
  const walk = (current: unknown): unknown => {
    if (typeof current === 'string') {
      const match = SECRET_REF.exec(current);
      if (!match) return current;
      const secret = resolveOne(match[1] ?? '', match[2] ?? '', env);
      secrets.push(secret);
      return secret;
    }
    if (Array.isArray(current)) return current.map(walk);
    if (current !== null && typeof current === 'object') return Object.fromEntries(Object.entries(current).map(([key, item]) => [key, walk(item)]));
    return current;
  };
  return { value: walk(value) as T, secrets };
}
