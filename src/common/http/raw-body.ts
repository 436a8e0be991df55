import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Reads a raw request's whole body, for the fronts on the HTTP server's request listener (the whole-answer
 * cache, the GraphQL query lane), and hands it over in one buffer. A client gone mid-body destroys the
 * response: there is nobody to answer.
 */
export function readRawBody(req: IncomingMessage, res: ServerResponse, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.once('end', () => onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
  req.once('error', () => res.destroy());
}
