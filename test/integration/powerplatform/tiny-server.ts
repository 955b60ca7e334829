/** A throwaway node:http server for answers the simulator does not give (odd bodies, foreign hosts). */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TinyServer {
  url: string;
  /** Paths (with query) of every request received. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startTinyServer(
  handle: (req: IncomingMessage, res: ServerResponse, url: string) => void,
): Promise<TinyServer> {
  const requests: string[] = [];
  let url = '';
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    req.resume();
    handle(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
