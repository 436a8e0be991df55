import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

/** A local HTTP server for specs: `origin` to call, `close()` that also ends kept-alive sockets. */
export interface BodyServer {
  origin: string;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 that reads each request's body whole and hands it to `handle`. */
export async function startBodyServer(
  handle: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<BodyServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
