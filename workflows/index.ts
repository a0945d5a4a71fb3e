export { dagRun } from './dag-run';
