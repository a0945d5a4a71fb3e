import * as path from 'node:path';
import { PROJECT_ROOT, type QubinodeConfig } from '../config/config';
import { AiService } from './ai-service';

/** The AI service of this process from the config: docs/, the DAG repositories and the venv's tools as sources. */
export function createAiService(config: Pick<QubinodeConfig, 'ai' | 'dagDirectories'>, options: { projectRoot?: string } = {}): AiService {
  const root = options.projectRoot ?? PROJECT_ROOT;
  return new AiService({
    config: config.ai,
    roots: {
      projectRoot: root,
      docDirs: [path.join(root, 'docs')],
      dagDirs: config.dagDirectories.map((entry) => entry.dir),
      helpDir: path.join(config.ai.storeDir, 'help'),
      toolBin: path.join(root, '.tools', 'venv', 'bin'),
    },
  });
}
