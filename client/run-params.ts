// A run's params as an operator gives them, checked against the DAG's param specs before anything starts,
// and the spec's schema that checks the API's answers.
export { ParamValidationError, resolveParams } from '../dag-repos/schema/params';
export { ParamSpec } from '../dag-repos/schema/dag-spec';
