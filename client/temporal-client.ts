// The Temporal connection of a client process, made from its settings. The CLI reaches config/ only
// through the client (shared/DESIGN.md).
export { connectClient, type TemporalClient } from '../config/temporal-connection';
