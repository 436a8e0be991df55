import axios, {
  AxiosError,
  AxiosHeaders,
  CanceledError,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Pool, type Dispatcher } from 'undici';
import { neverSentCodes } from './maia-errors';

/**
 * An axios adapter that performs the HTTP exchange with undici instead of axios' node http adapter: one
 * keep-alive `undici.Pool` per origin, no proxy lookup per request. Axios stays the client API
 * (interceptors, `validateStatus`, transformers all run as before); only the exchange is replaced. The
 * transport may call the adapter itself, without axios' pipeline, while that is unobservable
 * (`directAdapter` in maia-http.exchange.ts, ADR 0047): headers then come as a plain object.
 *
 * Honoured: what the Maia transport and token service use: method, `url` (+ `baseURL`/`params`), headers,
 * `data` (string or Buffer), `timeout` (whole exchange, `ECONNABORTED`), `signal` (`ERR_CANCELED`),
 * `maxBodyLength`, `maxContentLength` (`ERR_BAD_RESPONSE`, decoded bytes), `responseType` text or json
 * (the body as a UTF-8 string), `decompress` (gzip, deflate, br), `validateStatus`.
 * Refused (`ERR_NOT_SUPPORT`): proxies (axios' own adapter is kept when a proxy is configured), `auth`,
 * `cancelToken`, other response types. Ignored: redirects (never followed), progress callbacks, agents.
 *
 * Network errors carry the codes axios' http adapter gave, which callers classify: connection refused
 * and DNS failures keep the system code (`ECONNREFUSED`, `ENOTFOUND`, ...: the request never left), a
 * socket lost once the request was written is `ECONNRESET`, undici's own timeouts are `ETIMEDOUT`.
 * Nothing is retried here: a request written onto a keep-alive socket the server had just closed fails
 * like any other lost exchange, and the caller decides. Error messages hold no header, query or body.
 */
export interface UndiciAxiosAdapter {
  readonly adapter: AxiosAdapter;
  /** Closes every pool: waits for exchanges in flight up to `graceMs`, then destroys what is left. */
  close(graceMs?: number): Promise<void>;
}

export interface UndiciAdapterOptions {
  /** Idle keep-alive sockets are closed after this (ms); a shorter server hint wins. Default 4000. */
  keepAliveTimeoutMs?: number;
  /** Sockets per origin; default unlimited, like node's default agent. */
  connectionsPerOrigin?: number;
}

const connectPhaseSyscalls = new Set(['connect', 'getaddrinfo']);

const unzip = promisify(zlib.unzip);
const inflateRaw = promisify(zlib.inflateRaw);
const brotliDecompress = promisify(zlib.brotliDecompress);

const absoluteHttpUrl = /^(https?:\/\/[^/?#]+)([^#]*)/i;
const userAgent = `axios/${axios.VERSION}`;

const ignore = (): void => undefined;

/** Every adapter `createUndiciAdapter` made: what the transport's direct exchange may call (ADR 0047). */
const undiciAdapters = new WeakSet<object>();

/** True when `adapter` is one `createUndiciAdapter` made. */
export function isUndiciAdapter(adapter: unknown): adapter is AxiosAdapter {
  return typeof adapter === 'function' && undiciAdapters.has(adapter);
}

export function createUndiciAdapter(options: UndiciAdapterOptions = {}): UndiciAxiosAdapter {
  const pools = new Map<string, Pool>();
  let closed = false;

  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 4000,
        ...(options.connectionsPerOrigin ? { connections: options.connectionsPerOrigin } : {}),
      });
      pools.set(origin, pool);
    }
    return pool;
  };

  const adapter: AxiosAdapter = (config) => {
    if (closed) {
      return Promise.reject(new AxiosError('The HTTP client is closed', 'ERR_CLIENT_CLOSED', config));
    }
    return exchange(config, poolFor);
  };
  undiciAdapters.add(adapter);

  const close = async (graceMs = 10_000): Promise<void> => {
    closed = true;
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(
      all.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), graceMs);
        });
        try {
          if ((await Promise.race([pool.close(), late])) === 'late') await pool.destroy();
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  };

  return { adapter, close };
}

function exchange(
  config: InternalAxiosRequestConfig,
  poolFor: (origin: string) => Pool,
): Promise<AxiosResponse> {
  const request = {};
  const fullUrl = config.baseURL || config.params ? axios.getUri(config) : (config.url ?? '');
  const target = absoluteHttpUrl.exec(fullUrl);
  if (target === null || target[1].includes('@')) {
    // No URL in the message: it may hold a query or credentials.
    return Promise.reject(
      new AxiosError(
        'Unsupported URL (absolute http(s) URL without credentials expected)',
        AxiosError.ERR_INVALID_URL,
        config,
      ),
    );
  }
  const unsupported = unsupportedOption(config);
  if (unsupported !== null) {
    return Promise.reject(
      new AxiosError(`${unsupported} is not supported by this adapter`, AxiosError.ERR_NOT_SUPPORT, config),
    );
  }
  const origin = target[1].toLowerCase();
  const rawPath = target[2];
  const path = rawPath === '' ? '/' : rawPath.charCodeAt(0) === 63 /* ? */ ? `/${rawPath}` : rawPath;

  const method = (config.method ?? 'get').toUpperCase();
  const decompress = config.decompress !== false;
  const headers = requestHeaders(config, decompress);

  let body: string | Buffer | undefined;
  try {
    body = requestBody(config);
  } catch (error) {
    return Promise.reject(error as AxiosError);
  }

  const maxContentLength = config.maxContentLength ?? -1;
  const timeout = config.timeout ?? 0;
  const signal = config.signal;

  return new Promise<AxiosResponse>((resolve, reject) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Why the exchange stopped early, if it did; the first reason wins.
    let stopped: AxiosError | undefined;

    const finish = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener?.('abort', onAbort);
    };
    const fail = (error: AxiosError): void => {
      finish();
      reject(error);
    };
    const stop = (error: AxiosError): void => {
      if (stopped) return;
      stopped = error;
      controller.abort();
      fail(error);
    };
    function onAbort(): void {
      stop(new CanceledError(undefined, config, request));
    }

    if (signal?.aborted) {
      reject(new CanceledError(undefined, config, request));
      return;
    }
    signal?.addEventListener?.('abort', onAbort);
    if (timeout > 0) {
      timer = setTimeout(() => {
        const message = config.timeoutErrorMessage || `timeout of ${timeout}ms exceeded`;
        const code = config.transitional?.clarifyTimeoutError
          ? AxiosError.ETIMEDOUT
          : AxiosError.ECONNABORTED;
        stop(new AxiosError(message, code, config, request));
      }, timeout);
    }

    let pool: Pool;
    try {
      pool = poolFor(origin);
    } catch (error) {
      fail(networkError(error, config, request));
      return;
    }
    pool
      .request({
        path,
        method,
        headers,
        body,
        signal: controller.signal,
      })
      .then(
        (answer) => {
          if (stopped) {
            // Destroying the body emits an abort error on it: swallowed, the call has already failed.
            answer.body.on('error', ignore).destroy();
            return;
          }
          readBody(answer, method, decompress, maxContentLength, config, request).then(
            (response) => {
              if (stopped) return;
              finish();
              settle(resolve, reject, response);
            },
            (error: unknown) => {
              if (stopped) return;
              fail(error instanceof AxiosError ? error : networkError(error, config, request));
            },
          );
        },
        (error: unknown) => {
          if (!stopped) fail(networkError(error, config, request));
        },
      );
  });
}

function requestHeaders(config: InternalAxiosRequestConfig, decompress: boolean): Record<string, string> {
  const given = config.headers as unknown;
  const headers =
    given instanceof AxiosHeaders
      ? given.toJSON(true)
      : (plainHeaders(given) ?? (given ? AxiosHeaders.from(given as AxiosHeaders).toJSON(true) : {}));
  let hasUserAgent = false;
  let hasAcceptEncoding = false;
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (lower === 'user-agent') hasUserAgent = true;
    else if (lower === 'accept-encoding') hasAcceptEncoding = true;
  }
  // What axios' http adapter sent, so Maia sees the same request as before.
  if (!hasUserAgent) headers['User-Agent'] = userAgent;
  if (!hasAcceptEncoding && decompress) headers['Accept-Encoding'] = 'gzip, deflate, br';
  return headers;
}

// What AxiosHeaders would change in a value: control characters (tab aside) anywhere, blanks at either end.
// eslint-disable-next-line no-control-regex
const unsanitisedValue = /[\u0000-\u0008\u000a-\u001f\u007f]|^[\t ]|[\t ]$/;

/**
 * A copy of headers given as a plain object of strings that AxiosHeaders would keep as they are (the
 * transport's direct exchange gives them so, ADR 0047), or null when AxiosHeaders must normalise them.
 * Names are taken as given: the caller sends each name once.
 */
function plainHeaders(given: unknown): Record<string, string> | null {
  if (typeof given !== 'object' || given === null || Object.getPrototypeOf(given) !== Object.prototype)
    return null;
  const headers: Record<string, string> = {};
  for (const name in given) {
    const value = (given as Record<string, unknown>)[name];
    if (typeof value !== 'string' || unsanitisedValue.test(value)) return null;
    headers[name] = value;
  }
  return headers;
}

/** Options no Maia call uses: refused rather than silently ignored. */
function unsupportedOption(config: InternalAxiosRequestConfig): string | null {
  if (config.proxy) return 'A proxy';
  if (config.auth) return 'auth';
  if (config.cancelToken) return 'cancelToken';
  const type = config.responseType;
  if (type !== undefined && type !== 'text' && type !== 'json') return `responseType ${type}`;
  return null;
}

function requestBody(config: InternalAxiosRequestConfig): string | Buffer | undefined {
  const body: unknown = config.data;
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    throw new AxiosError(
      'Data after transformation must be a string or a Buffer',
      AxiosError.ERR_BAD_REQUEST,
      config,
    );
  }
  const maxBodyLength = config.maxBodyLength ?? -1;
  if (maxBodyLength > -1) {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (length > maxBodyLength) {
      throw new AxiosError(
        'Request body larger than maxBodyLength limit',
        AxiosError.ERR_BAD_REQUEST,
        config,
      );
    }
  }
  return body;
}

function tooLarge(maxContentLength: number, config: InternalAxiosRequestConfig, request: object): AxiosError {
  return new AxiosError(
    `maxContentLength size of ${maxContentLength} exceeded`,
    AxiosError.ERR_BAD_RESPONSE,
    config,
    request,
  );
}

/** Reads the whole body (bounded by maxContentLength), decodes it, and builds the axios response. */
function readBody(
  answer: Dispatcher.ResponseData,
  method: string,
  decompress: boolean,
  maxContentLength: number,
  config: InternalAxiosRequestConfig,
  request: object,
): Promise<AxiosResponse> {
  const { statusCode, headers } = answer;
  const stream = answer.body;
  const encoding = decodableEncoding(headers, method, statusCode, decompress);

  return new Promise<Buffer>((resolve, reject) => {
    // Destroying the body makes undici emit an abort error on it: listen first.
    stream.on('error', reject);
    // Without encoding the declared length is the decoded length: refuse before reading.
    const declared = Number(headers['content-length']);
    if (maxContentLength > -1 && encoding === undefined && declared > maxContentLength) {
      stream.destroy();
      reject(tooLarge(maxContentLength, config, request));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    // An encoded body is bounded too: its raw bytes may not exceed the decoded limit either.
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (maxContentLength > -1 && total > maxContentLength) {
        stream.destroy();
        reject(tooLarge(maxContentLength, config, request));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)));
  })
    .then((raw) =>
      encoding === undefined || raw.length === 0
        ? raw
        : decode(raw, encoding, maxContentLength, config, request),
    )
    .then((bytes) => {
      let data = bytes.toString('utf8');
      if (data.charCodeAt(0) === 0xfeff) data = data.slice(1); // a BOM, dropped as axios does
      return {
        data,
        status: statusCode,
        statusText: answer.statusText ?? '',
        headers: new AxiosHeaders(headers as Record<string, string | string[]>),
        config,
        request,
      };
    });
}

/** The encoding to undo (its header then dropped, like axios does), or undefined to keep the body as is. */
function decodableEncoding(
  headers: Dispatcher.ResponseData['headers'],
  method: string,
  statusCode: number,
  decompress: boolean,
): string | undefined {
  const header = headers['content-encoding'];
  if (!decompress || header === undefined) return undefined;
  if (method === 'HEAD' || statusCode === 204 || statusCode === 304) {
    delete headers['content-encoding'];
    return undefined;
  }
  const encoding = typeof header === 'string' ? header.trim().toLowerCase() : '';
  // Anything else (several codings, zstd...) is left as it came, header included, like axios.
  if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate' && encoding !== 'br')
    return undefined;
  delete headers['content-encoding'];
  return encoding;
}

async function decode(
  raw: Buffer,
  encoding: string,
  maxContentLength: number,
  config: InternalAxiosRequestConfig,
  request: object,
): Promise<Buffer> {
  const limits = maxContentLength > -1 ? { maxOutputLength: Math.max(1, maxContentLength) } : {};
  try {
    let decoded: Buffer;
    if (encoding === 'br') decoded = await brotliDecompress(raw, limits);
    // `deflate` may come zlib-wrapped (as specified) or raw (as some servers send it).
    else if (encoding === 'deflate' && (raw[0] & 0x0f) !== 0x08) decoded = await inflateRaw(raw, limits);
    else decoded = await unzip(raw, limits);
    if (maxContentLength > -1 && decoded.length > maxContentLength)
      throw tooLarge(maxContentLength, config, request);
    return decoded;
  } catch (error) {
    if (error instanceof AxiosError) throw error;
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(maxContentLength, config, request);
    const code = (error as { code?: unknown }).code;
    throw new AxiosError(
      `Could not decode the ${encoding} response body${typeof code === 'string' ? ` (${code})` : ''}`,
      AxiosError.ERR_BAD_RESPONSE,
      config,
      request,
    );
  }
}

function settle(
  resolve: (response: AxiosResponse) => void,
  reject: (error: AxiosError) => void,
  response: AxiosResponse,
): void {
  const validateStatus = response.config.validateStatus;
  if (!response.status || !validateStatus || validateStatus(response.status)) {
    resolve(response);
    return;
  }
  reject(
    new AxiosError(
      `Request failed with status code ${response.status}`,
      response.status >= 400 && response.status < 500
        ? AxiosError.ERR_BAD_REQUEST
        : AxiosError.ERR_BAD_RESPONSE,
      response.config,
      response.request,
      response,
    ),
  );
}

/** An undici or system error as the AxiosError axios' http adapter would have raised. */
function networkError(error: unknown, config: InternalAxiosRequestConfig, request: object): AxiosError {
  // Not `instanceof Error`: node's own errors may come from another realm (jest's sandbox, for one).
  const cause = typeof error === 'object' && error !== null ? (error as Error) : new Error(String(error));
  return AxiosError.from(cause, axiosCodeOf(cause), config, request);
}

/**
 * The code callers see. Connection-phase codes (request never sent) pass only when the error really
 * came from connecting or resolving; the same code raised on an established socket (read/write) means
 * the request may have left, and is reported as a lost connection.
 */
export function axiosCodeOf(error: unknown): string {
  const primary = error as { code?: unknown; syscall?: unknown; cause?: unknown; errors?: unknown };
  const aggregated = Array.isArray(primary.errors)
    ? (primary.errors[0] as typeof primary | undefined)
    : undefined;
  const nested = primary.cause as typeof primary | undefined;
  const source =
    typeof primary.code === 'string'
      ? primary
      : typeof aggregated?.code === 'string'
        ? aggregated
        : typeof nested?.code === 'string'
          ? nested
          : undefined;
  const code = source?.code as string | undefined;
  if (code === undefined) return 'ERR_NETWORK';
  switch (code) {
    case 'UND_ERR_SOCKET':
      return 'ECONNRESET';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return AxiosError.ETIMEDOUT;
    case 'UND_ERR_INVALID_ARG':
      return AxiosError.ERR_BAD_OPTION_VALUE;
  }
  if (neverSentCodes.has(code)) {
    const syscall = source?.syscall ?? aggregated?.syscall;
    if (typeof syscall === 'string' && !connectPhaseSyscalls.has(syscall)) return 'ECONNRESET';
  }
  return code;
}
