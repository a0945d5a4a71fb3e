import { loadConfig } from './config/config';
import { createAiService } from './ai/create-ai-service';
async function main() {
  const config = loadConfig({ ...process.env, QUBINODE_AI_ANALYSIS: 'model' });
  const service = createAiService(config);
  const facts = { runId: 'dag/x/1', dagId: 'test/ai-e2e', taskId: 'install', action: 'shell', errorType: 'CommandFailed', message: 'exit code 1: Error: Unable to find a match: libvirt-dameon', exitCode: 1, stderrTail: 'Error: Unable to find a match: libvirt-dameon\n', stdoutTail: 'Last metadata expiration check: 0:12:04 ago.\n' };
  let t = Date.now(); await service.runtime.load(); console.log('load', Date.now() - t);
  t = Date.now(); const a = await service.analyse(facts, { timeoutMs: 120000 }); console.log('analyse', Date.now() - t, JSON.stringify(a, null, 1));
  t = Date.now(); const b = await service.analyse(facts, { timeoutMs: 120000 }); console.log('analyse2', Date.now() - t, b.source, b.elapsedMs);
  await service.dispose();
}
void main();
