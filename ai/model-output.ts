import { z } from 'zod';

/**
 * What the model must produce, as a JSON schema for node-llama-cpp's grammar. References are chunk
 * numbers from the prompt ([1], [2]...), mapped back to file:line afterwards: a small model cannot copy ids.
 */
export const MODEL_OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    summary: { type: 'string' },
    likelyCause: { type: 'string' },
    fixes: {
      type: 'array',
      maxItems: 3,
      items: {
        type: 'object',
        properties: { command: { type: 'string' }, why: { type: 'string' } },
        required: ['command', 'why'],
      },
    },
    confidence: { type: 'number' },
    references: { type: 'array', maxItems: 3, items: { type: 'integer' } },
  },
  required: ['summary', 'likelyCause', 'fixes', 'confidence', 'references'],
} as const;

export const ModelOutput = z.object({
  summary: z.string().trim().min(3),
  likelyCause: z.string().trim().min(3),
  fixes: z.array(z.object({ command: z.string(), why: z.string() })),
  confidence: z.number(),
  references: z.array(z.number().int()),
});
export type ModelOutput = z.infer<typeof ModelOutput>;
