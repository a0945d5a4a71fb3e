import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layoutGraph, NODE_WIDTH } from './graph-layout';

describe('the run graph layout', () => {
  it('places a task after the tasks it needs, left to right', () => {
    const placed = layoutGraph([{ id: 'fetch' }, { id: 'build', needs: ['fetch'] }, { id: 'test', needs: ['fetch'] }, { id: 'deploy', needs: ['build', 'test'] }]);
    const x = (id: string): number => placed.nodes.find((node) => node.id === id)?.x ?? Number.NaN;
    assert.ok(x('fetch') + NODE_WIDTH <= x('build'));
    assert.ok(x('build') + NODE_WIDTH <= x('deploy'));
    assert.equal(x('build'), x('test'));
    assert.deepEqual(
      placed.edges.map((edge) => `${edge.from}->${edge.to}`).sort(),
      ['build->deploy', 'fetch->build', 'fetch->test', 'test->deploy'],
    );
    for (const edge of placed.edges) assert.match(edge.path, /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/);
  });

  it('draws every task of a status without needs, and the drawing holds them all', () => {
    const placed = layoutGraph([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    assert.equal(placed.nodes.length, 3);
    assert.equal(placed.edges.length, 0);
    for (const node of placed.nodes) {
      assert.ok(node.x >= 0 && node.y >= 0);
      assert.ok(node.x + node.width <= placed.width && node.y + node.height <= placed.height);
    }
  });

  it('leaves out needs naming unknown tasks, the task itself or the same task twice', () => {
    const placed = layoutGraph([{ id: 'a' }, { id: 'b', needs: ['a', 'a', 'ghost', 'b', '__proto__'] }]);
    assert.deepEqual(placed.edges.map((edge) => `${edge.from}->${edge.to}`), ['a->b']);
  });

  it('lays out a long chain of tasks without failing', () => {
    const tasks = Array.from({ length: 200 }, (_, index) => ({ id: `t${index}`, ...(index > 0 ? { needs: [`t${index - 1}`] } : {}) }));
    const placed = layoutGraph(tasks);
    assert.equal(placed.nodes.length, 200);
    assert.equal(placed.edges.length, 199);
  });
});
