import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { MAX_PROBLEM_MESSAGE_CHARS, MAX_PROBLEM_PATH_CHARS, zodProblem, zodProblems, zodProblemsUnder } from '../config/zod-problems';
import * as forWorkflows from '../dag-repos/schema/zod-problems';

/** The one zod-issue formatter: `<prefix><path or root name>: <message>` for every folder. */

function errorOf(schema: z.ZodType, input: unknown): z.ZodError {
  const parsed = schema.safeParse(input);
  assert.equal(parsed.success, false, 'the fixture must be refused');
  return parsed.error as z.ZodError;
}

const Body = z.strictObject({ name: z.string(), hosts: z.array(z.strictObject({ port: z.number() })) });

describe('zodProblems', () => {
  it('names the root when the whole value is wrong', () => {
    assert.deepEqual(zodProblems(errorOf(Body, 'text'), 'body'), ['body: Invalid input: expected object, received string']);
  });

  it('leaves the path empty when no root name is given, as the environment and query messages do', () => {
    assert.deepEqual(zodProblems(errorOf(Body, 7), ''), [': Invalid input: expected object, received number']);
  });

  it('joins nested paths with list indexes as numbers', () => {
    const problems = zodProblems(errorOf(Body, { name: 'a', hosts: [{ port: 1 }, { port: 'x' }] }), 'body');
    assert.deepEqual(problems, ['hosts.1.port: Invalid input: expected number, received string']);
  });

  it('puts the prefix before the located path, root name included', () => {
    assert.deepEqual(zodProblems(errorOf(Body, null), 'repo', '  '), ['  repo: Invalid input: expected object, received null']);
    assert.deepEqual(zodProblems(errorOf(Body, { name: 1, hosts: [] }), '', 'with.'), ['with.name: Invalid input: expected string, received number']);
  });

  it('locates problems below a parent, the parent alone standing for the whole value', () => {
    assert.deepEqual(zodProblemsUnder(errorOf(Body, { name: 'a', hosts: [{ port: true }] }), 'with'), ['with.hosts.0.port: Invalid input: expected number, received boolean']);
    assert.deepEqual(zodProblemsUnder(errorOf(Body, []), 'with'), ['with: Invalid input: expected object, received array']);
  });

  it('reports a __proto__ key as data without touching any prototype', () => {
    const hostile = JSON.parse('{"name":"a","hosts":[],"__proto__":{"polluted":true}}') as unknown;
    const problems = zodProblems(errorOf(Body, hostile), 'body');
    assert.deepEqual(problems, ['body: Unrecognized key: "__proto__"']);
    const nested: z.core.$ZodIssue = { code: 'custom', path: ['__proto__', 'constructor', 'prototype'], message: 'bad', input: undefined };
    assert.equal(zodProblem(nested, 'body'), '__proto__.constructor.prototype: bad');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('formats a symbol key instead of throwing', () => {
    const issue: z.core.$ZodIssue = { code: 'custom', path: [Symbol('secret'), 0], message: 'bad', input: undefined };
    assert.equal(zodProblem(issue, 'body'), 'Symbol(secret).0: bad');
  });

  it('caps a very long path and a very long message', () => {
    const deep = Array.from({ length: 400 }, (_, index) => `key${index}`);
    const issue: z.core.$ZodIssue = { code: 'custom', path: deep, message: 'm'.repeat(5000), input: undefined };
    const line = zodProblem(issue, 'body');
    const [at, message] = line.split(': ');
    assert.equal(at, `${deep.join('.').slice(0, MAX_PROBLEM_PATH_CHARS)}…`);
    assert.equal(message, `${'m'.repeat(MAX_PROBLEM_MESSAGE_CHARS)}…`);
  });

  it('caps a message listing many unknown keys', () => {
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, index) => [`unknown${index}`, 1]));
    const [line] = zodProblems(errorOf(z.strictObject({}), many), 'body');
    assert.ok(line !== undefined && line.length <= 'body: '.length + MAX_PROBLEM_MESSAGE_CHARS + 1, `${line?.length}`);
    assert.ok(line?.endsWith('…'));
  });

  it('does not cut a surrogate pair in half when capping', () => {
    const issue: z.core.$ZodIssue = { code: 'custom', path: [`${'a'.repeat(MAX_PROBLEM_PATH_CHARS - 1)}😀tail`], message: 'bad', input: undefined };
    const [at] = zodProblem(issue, 'body').split(': ');
    assert.equal(at, `${'a'.repeat(MAX_PROBLEM_PATH_CHARS - 1)}…`);
  });

  it('is the same function workflow code imports through dag-repos', () => {
    assert.equal(forWorkflows.zodProblems, zodProblems);
    assert.equal(forWorkflows.zodProblem, zodProblem);
    assert.equal(forWorkflows.zodProblemsUnder, zodProblemsUnder);
  });
});
