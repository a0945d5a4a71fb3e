// Workflow code may import pure dag-repos but not config (DESIGN's import table); this is its way to the one formatter.
export { zodProblem, zodProblems, zodProblemsUnder } from '../../config/zod-problems';
