import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { installRequestTurns, RequestTurns } from '../api/request-turns';

/** A loop whose turns the test runs by hand, with a clock it sets. */
function heldLoop(): { turns: RequestTurns; runTurn: (atMs: number) => Promise<void>; pending: () => number } {
  let callbacks: (() => void)[] = [];
  let nowMs = 0;
  const turns = new RequestTurns({ drainWithinMs: 50, nowMs: () => nowMs, nextTurn: (callback) => callbacks.push(callback) });
  return {
    turns,
    pending: () => callbacks.length,
    runTurn: async (atMs) => {
      nowMs = atMs;
      const due = callbacks;
      callbacks = [];
      for (const callback of due) callback();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('requests start in turns', () => {
  it('starts waiting requests in arrival order, one per turn while turns are short', async () => {
    const loop = heldLoop();
    const started: number[] = [];
    for (let index = 0; index < 5; index += 1) void loop.turns.wait().then(() => started.push(index));
    assert.equal(loop.pending(), 1, 'one turn is asked for, however many wait');
    await loop.runTurn(0);
    assert.deepEqual(started, [0], 'the first turn after a quiet spell starts one');
    await loop.runTurn(2);
    await loop.runTurn(4);
    assert.deepEqual(started, [0, 1, 2], '4 waiting, 2 ms a turn: well within 50 ms at one a turn');
    await loop.runTurn(6);
    await loop.runTurn(8);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(loop.pending(), 0, 'an empty queue asks for no more turns');
    assert.equal(loop.turns.length, 0);
  });

  it('starts more per turn when turns are long, so what waits still starts within the drain time', async () => {
    const loop = heldLoop();
    const started: number[] = [];
    for (let index = 0; index < 41; index += 1) void loop.turns.wait().then(() => started.push(index));
    await loop.runTurn(0);
    // A turn of 10 ms (other work shares the loop) with 40 waiting: 40 × 10 / 50 = 8 this turn.
    await loop.runTurn(10);
    assert.equal(started.length, 1 + 8);
    assert.deepEqual(started, [...started].sort((a, b) => a - b), 'first come, first served');
    // A turn of 100 ms with 32 waiting: all of them.
    await loop.runTurn(110);
    assert.equal(started.length, 41);
  });

  it('lets a connection opened during a burst be answered among the first, not after every open connection had many turns', async () => {
    // Real sockets on loopback: 16 connections keep a handler that costs ~1 ms busy; then 16 more open at once.
    // Counted, not timed: how many requests were served between a new connection's connect and the start of its
    // first request. Without turns, the listener accepts one connection per turn of a loop that serves all the open
    // connections each turn, so the last new connection waits behind hundreds of requests.
    const app: FastifyInstance = Fastify();
    installRequestTurns(app);
    let served = 0;
    app.get('/', async (request) => {
      served += 1;
      const socket = request.raw.socket as Socket & { firstServedAt?: number };
      socket.firstServedAt ??= served;
      for (const end = performance.now() + 1; performance.now() < end; );
      return 'ok';
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const serverSockets: (Socket & { firstServedAt?: number })[] = [];
    app.server.on('connection', (socket: Socket) => serverSockets.push(socket));
    const clients: Socket[] = [];
    let running = true;
    const hammer = (socket: Socket, onFirstAnswer?: () => void): void => {
      let buffered = '';
      let answered = false;
      const ask = (): void => {
        if (running) socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      };
      socket.on('data', (chunk) => {
        buffered += chunk.toString();
        while (buffered.includes('\r\n\r\nok')) {
          buffered = buffered.slice(buffered.indexOf('\r\n\r\nok') + 6);
          if (!answered) {
            answered = true;
            onFirstAnswer?.();
          }
          ask();
        }
      });
      ask();
    };
    try {
      const open = (): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
          clients.push(socket);
        });
      for (const socket of await Promise.all(Array.from({ length: 16 }, open))) hammer(socket);
      while (served < 200) await new Promise((resolve) => setTimeout(resolve, 5));
      const connectedAt = new Map<Socket, number>();
      const newcomers = await Promise.all(
        Array.from({ length: 16 }, () =>
          open().then((socket) => {
            connectedAt.set(socket, served);
            return socket;
          }),
        ),
      );
      await Promise.all(newcomers.map((socket) => new Promise<void>((resolve) => hammer(socket, resolve))));
      const connectedBefore = Math.max(...connectedAt.values());
      const firstServed = serverSockets.slice(16).map((socket) => socket.firstServedAt ?? Number.POSITIVE_INFINITY);
      assert.equal(firstServed.length, 16);
      const waitedBehind = Math.max(...firstServed) - connectedBefore;
      // 32 connections, one request each in the queue: a newcomer waits behind about a round of them, plus the
      // turns it took to be accepted (one request each). Without turns this is several hundred.
      assert.ok(waitedBehind <= 96, `the last new connection waited behind ${waitedBehind} requests`);
    } finally {
      running = false;
      for (const socket of clients) socket.destroy();
      await app.close();
    }
  });
});
