import type { Socket } from 'node:net';
import { ErrorCode, GatewayError } from '../errors';
import { PROBLEM_JSON, problemOf } from './problem-json';

/**
 * Fastify's `clientErrorHandler`: what a client gets when Node's HTTP server gives up on its request
 * before any route runs (a header or request timeout, headers too large, bytes that are not HTTP). The
 * same problem+json with a stable code as every other error, then the connection closes; Fastify's
 * default writes a body of its own shape.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, gatewayError] = clientErrorOf(error.code);
  if (socket.writable) {
    const body = JSON.stringify(problemOf(gatewayError));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\n` +
        `Content-Type: ${PROBLEM_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function clientErrorOf(code: string | undefined): [number, GatewayError] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, new GatewayError(ErrorCode.REQUEST_TIMEOUT, 'The request was not received in time')];
    case 'HPE_HEADER_OVERFLOW':
      return [431, new GatewayError(ErrorCode.BAD_USER_INPUT, 'The request headers are too large')];
    default:
      return [400, new GatewayError(ErrorCode.BAD_USER_INPUT, 'The request is not valid HTTP')];
  }
}
