import * as path from 'node:path';

/** Root of this checkout: config, workers and the CLI resolve defaults from here. Kept apart from the settings schema so the CLI reads it without loading zod. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
