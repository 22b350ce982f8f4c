// Both brokers (deny-by-default and the research insecure one) open and close their TCP port the same way.
import type { Server, Socket } from 'node:net';
import { SealmqError } from '../errors.js';

/** Listens on host:port; a port in use is an 'input' error, after cleanup() has let go of the broker. */
export function listenOn(server: Server, host: string, port: number, cleanup: () => void): Promise<void> {
  return new Promise<void>((res, rej) => {
    const onErr = (e: NodeJS.ErrnoException) => {
      cleanup();
      rej(new SealmqError('input', `cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`, { cause: e }));
    };
    server.once('error', onErr);
    server.listen(port, host, () => {
      server.off('error', onErr);
      res();
    });
  });
}

/** Stops a broker: aedes first (clients get their sessions ended), then the listener, every socket cut. */
export async function closeBroker(aedes: { close(cb: () => void): void }, server: Server, sockets: Set<Socket>): Promise<void> {
  await new Promise<void>((res) => aedes.close(() => res()));
  const closed = new Promise<void>((res) => server.close(() => res()));
  for (const s of sockets) s.destroy();
  await closed;
}
