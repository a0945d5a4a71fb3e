import { connect, createServer, type Server } from 'node:net';

/**
 * A TCP port on 127.0.0.1 nothing listens on now, for a process started later, held back from the
 * kernel's own picks until then.
 *
 * A port merely bound and released goes back into the pool that `listen(0)` draws from. A Temporal dev
 * server picks five such ports for itself while it starts, so it could take the very port it was told to
 * listen on and then crash on it (seen as a nil-pointer panic after "Failed to start gRPC listener"). One
 * connection that this side closes first leaves the port in TIME_WAIT for a minute: Linux does not hand it
 * out to `listen(0)` meanwhile, yet a server that binds it by number (with SO_REUSEADDR, as Node and Go do)
 * still may.
 */
export async function freePort(): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  try {
    await new Promise<void>((resolve, reject) => {
      const client = connect(port, '127.0.0.1');
      client.once('error', reject);
      client.once('close', () => resolve());
      client.resume();
    });
  } finally {
    await closeServer(server);
  }
  return port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
