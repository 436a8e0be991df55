import { z } from 'zod';
import { envBool, envInt, envOptionalString, type Env } from './env';

export const gatewayModes = ['sandbox', 'development', 'production'] as const;
export type GatewayMode = (typeof gatewayModes)[number];

/** What a browser sees at `/graphql`: GraphiQL served by the gateway itself, Apollo's hosted Sandbox, or nothing. */
export const graphqlExplorers = ['graphiql', 'apollo-sandbox', 'off'] as const;
export type GraphqlExplorer = (typeof graphqlExplorers)[number];

/** How log lines are written: JSON lines (for a log pipeline) or one readable line each (for a person). */
export const logFormats = ['json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

const fields = z.object({
  // Empty counts as unset (a copied .env.example has `GATEWAY_MODE=`): the mode then follows the credentials.
  GATEWAY_MODE: envOptionalString().pipe(z.enum(gatewayModes).optional()),
  HOST: z.string().default('0.0.0.0'),
  PORT: envInt(3000, 0, 65535),
  BODY_LIMIT_BYTES: envInt(100 * 1024, 1024, 10 * 1024 * 1024),
  SHUTDOWN_GRACE_MS: envInt(10_000, 0, 120_000),
  HTTP_HEADERS_TIMEOUT_MS: envInt(10_000, 100, 120_000),
  HTTP_REQUEST_TIMEOUT_MS: envInt(30_000, 100, 600_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: envInt(72_000, 100, 600_000),
  CONNECTION_LIMIT_PER_IP: envInt(256, 0, 1_000_000),
  GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT: envInt(200, 0, 1_000_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: envOptionalString().pipe(z.enum(logFormats).optional()),
  // `true` and `false` are the older spellings: `true` asks for the default explorer, `false` for the mode's default.
  GRAPHQL_EXPLORER: envOptionalString().pipe(z.enum([...graphqlExplorers, 'true', 'false']).optional()),
  GRAPHQL_INTROSPECTION: envBool(false),
  // The GraphQL query lane (docs/adr/0035-graphql-query-lane.md).
  GRAPHQL_QUERY_LANE: z.enum(['on', 'off']).default('on'),
  GRAPHQL_QUERY_LANE_EXECUTOR: z.enum(['jit', 'graphql-js']).default('jit'),
  // Requests waiting for their document's first request inside Apollo (docs/adr/0043-acceptance-in-flight.md).
  GRAPHQL_QUERY_LANE_PARK_PER_DOCUMENT: envInt(1_000, 0, 100_000),
  GRAPHQL_QUERY_LANE_PARK_TOTAL: envInt(2_000, 0, 100_000),
  GRAPHQL_QUERY_LANE_PARK_TIMEOUT_MS: envInt(1_000, 1, 60_000),
  // Empty: the mode decides (on outside production).
  RUN_CONSOLE: envOptionalString().pipe(z.enum(['true', 'false']).optional()),
  MAIA_CLIENT_ID: envOptionalString(),
  TRUST_PROXY: envOptionalString().refine(
    (v) => v === undefined || v === 'true' || v === 'false' || /^[\w.:/]+(\s*,\s*[\w.:/]+)*$/.test(v),
    {
      message:
        'must be true, false, or a comma-separated list of proxy addresses/CIDRs (e.g. 10.0.0.0/8,loopback)',
    },
  ),
});

const schema = fields.refine((v) => v.HTTP_HEADERS_TIMEOUT_MS <= v.HTTP_REQUEST_TIMEOUT_MS, {
  message: 'must not be longer than HTTP_REQUEST_TIMEOUT_MS (the whole request includes its headers)',
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
});

/** Which peers may set X-Forwarded-For: none (default), every one, or the listed addresses/CIDRs. */
export type TrustProxy = boolean | string[];

function trustProxyOf(value: string | undefined): TrustProxy {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return value.split(',').map((v) => v.trim());
}

function explorerOf(
  value: GraphqlExplorer | 'true' | 'false' | undefined,
  devLike: boolean,
): GraphqlExplorer {
  if (value === 'true') return 'graphiql';
  if (value === undefined || value === 'false') return devLike ? 'graphiql' : 'off';
  return value;
}

const modeSchema = fields.pick({ GATEWAY_MODE: true, MAIA_CLIENT_ID: true });

/**
 * The mode alone, from `GATEWAY_MODE` and `MAIA_CLIENT_ID` only: other namespaces judge by it, and a bad
 * `PORT` or `LOG_LEVEL` must not change what they judge (it is reported once, by this namespace).
 */
export function gatewayModeOf(env: Env): GatewayMode {
  const v = modeSchema.parse(env);
  // No Maia credentials means nothing real to talk to: sandbox mode, against the built-in emulator.
  return v.GATEWAY_MODE ?? (v.MAIA_CLIENT_ID ? 'production' : 'sandbox');
}

export function serverConfig(env: Env) {
  const v = schema.parse(env);
  const mode = gatewayModeOf(env);
  const devLike = mode !== 'production';
  return {
    mode,
    host: v.HOST,
    port: v.PORT,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    /**
     * Bounds of one HTTP request on every path (Fastify, the hot-read front, WebSocket upgrades), enforced
     * by Node's HTTP server: a client gets this long to send its headers, and this long for the whole
     * request with its body (408, then the connection closes), and a kept-alive connection may sit idle
     * between requests this long. The idle default outlasts the usual load balancer idle timeout (60 s),
     * so the balancer, not the gateway, closes a connection it might be about to reuse.
     */
    http: {
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    /**
     * Open TCP connections one peer address may hold (0: no cap); more are closed as they arrive. Trusted
     * proxies (`TRUST_PROXY`) are exempt: every caller behind them shares their address, and the proxy
     * bounds its own connections. With `TRUST_PROXY=true` every peer is a proxy, so the cap is off.
     */
    connectionLimitPerIp: v.CONNECTION_LIMIT_PER_IP,
    /** Open graphql-ws connections one authenticated client may hold on this replica (0: no cap). */
    wsMaxConnectionsPerClient: v.GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT,
    /**
     * Off by default: a client could otherwise pick its own IP for per-IP limits by sending X-Forwarded-For.
     * Behind a load balancer, name it (or `true` when only the load balancer can reach the gateway).
     */
    trustProxy: trustProxyOf(v.TRUST_PROXY),
    logLevel: v.LOG_LEVEL,
    /** Readable lines in sandbox mode (a person at a terminal), JSON lines everywhere else unless asked. */
    logFormat: v.LOG_FORMAT ?? (mode === 'sandbox' ? 'pretty' : 'json'),
    /** The explorer and introspection are on outside production, and in production only when asked for. */
    graphqlExplorer: explorerOf(v.GRAPHQL_EXPLORER, devLike),
    graphqlIntrospection: devLike || v.GRAPHQL_INTROSPECTION,
    /**
     * Queries Apollo has already accepted in this process are executed at the HTTP server's request
     * listener, ahead of Fastify and Apollo's request pipeline, with the same admission, schema, resolvers,
     * error formatting, metrics and log line (docs/adr/0035-graphql-query-lane.md).
     */
    graphqlQueryLane: v.GRAPHQL_QUERY_LANE === 'on',
    /** What executes the lane's queries: graphql-js (as Apollo does) or graphql-jit's compiled query. */
    graphqlQueryLaneExecutor: v.GRAPHQL_QUERY_LANE_EXECUTOR,
    /**
     * While a document's first request is inside Apollo, later requests for it wait at the lane (at most
     * `perDocument` of them, `total` overall, `timeoutMs` long) and take the lane once Apollo accepted it,
     * or go to Fastify as before (docs/adr/0043-acceptance-in-flight.md).
     */
    graphqlQueryLanePark: {
      perDocument: v.GRAPHQL_QUERY_LANE_PARK_PER_DOCUMENT,
      total: v.GRAPHQL_QUERY_LANE_PARK_TOTAL,
      timeoutMs: v.GRAPHQL_QUERY_LANE_PARK_TIMEOUT_MS,
    },
    /** The run console at `/console`: on outside production, and in production only when asked for. */
    runConsole: v.RUN_CONSOLE === undefined ? devLike : v.RUN_CONSOLE === 'true',
  };
}
export type ServerConfig = ReturnType<typeof serverConfig>;
