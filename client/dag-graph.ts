// A compiled DAG's shape as `qubinode dag graph` prints it: indented text and a Mermaid flowchart.
export { renderGraphMermaid, renderGraphText } from '../dag-repos/compiler/render-graph';
