import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through between a gateway and the emulator that notes when each upstream call began and when its
 * answer had been handed back, on the harness's clock (`performance.now()`): the stampede compares its
 * answers with the end of the one upstream call they waited for.
 */

export interface UpstreamCall {
  method: string;
  path: string;
  status: number;
  startMs: number;
  endMs: number;
}

export interface RecordingProxy {
  url: string;
  calls: UpstreamCall[];
  /** Called as each upstream call arrives and as its answer has been handed back. */
  onCall?: (phase: 'start' | 'end', method: string, path: string) => void;
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const calls: UpstreamCall[] = [];
  const server: Server = createServer((req, res) => {
    const startMs = performance.now();
    const path = (req.url ?? '').split('?')[0];
    proxy.onCall?.('start', req.method ?? 'GET', path);
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        res.once('finish', () => {
          calls.push({
            method: req.method ?? 'GET',
            path,
            status: answer.statusCode ?? 0,
            startMs,
            endMs: performance.now(),
          });
          proxy.onCall?.('end', req.method ?? 'GET', path);
        });
      },
    );
    forward.once('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  const proxy: RecordingProxy = {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
  return proxy;
}
