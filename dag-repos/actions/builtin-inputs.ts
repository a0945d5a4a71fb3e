import { z } from 'zod';
import { Duration } from '../schema/dag-spec';

/** Inputs of the small built-in actions (shell and http.check have modules of their own). Each schema is the action's contract, checked at compile time and again in the activity. */

export const SleepInput = z.object({ duration: Duration }).strict();
export type SleepInput = z.infer<typeof SleepInput>;

export const DagCallInput = z
  .object({
    dag: z.string().min(1).describe('Catalog id (repo/dag) or the id of a DAG in the same repository.'),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type DagCallInput = z.infer<typeof DagCallInput>;

export const NoopInput = z.record(z.string(), z.unknown());
export type NoopInput = z.infer<typeof NoopInput>;
