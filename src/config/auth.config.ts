import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envBool, envInt, envOptionalString, envUrl, type Env } from './env';
import { readTrustedDocuments, type TrustedOperation } from './trusted-documents';
import { gatewayModeOf, type GatewayMode } from './server.config';
import { UUID_PATTERN } from '../common/validation/uuid';

/** What a caller may do; `admin` implies every other scope. Mirrors `src/auth/require-scope.decorator.ts`. */
const scopeNames = ['read', 'execute', 'cancel', 'admin'] as const;
type ScopeName = (typeof scopeNames)[number];

/** Asymmetric algorithms a JWKS can publish keys for. `none` is never accepted. */
const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
/** Shared-secret algorithms: only when listed explicitly in AUTH_JWT_ALGORITHMS. */
const hmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const;
const jwtAlgorithms = [...asymmetricAlgorithms, ...hmacAlgorithms] as const;
export type JwtAlgorithm = (typeof jwtAlgorithms)[number];

/** One configured API key: the SHA-256 of the key (never the key), what it may do and where. */
const apiKeyEntry = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._:@-]+$/, 'name: letters, digits and . _ : @ - only'),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'sha256: 64 hex characters (npm run hash-key -- <key>)')
      .transform((h) => h.toLowerCase()),
    scopes: z.array(z.enum(scopeNames)).min(1),
    projects: z
      .array(
        z.string().refine((p) => p === '*' || UUID_PATTERN.test(p), 'projects: project ids (UUIDs) or "*"'),
      )
      .min(1),
  })
  .strict();
const apiKeyList = z.array(apiKeyEntry);

export interface ApiKeyConfig {
  name: string;
  /** Lower-case hex SHA-256 of the key. */
  sha256: string;
  scopes: ScopeName[];
  /** `'*'` or lower-case project ids. */
  projects: '*' | string[];
}

const csv = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) =>
      (v === undefined || v.trim() === '' ? fallback : v)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );

/** A boolean whose default depends on the mode: undefined when unset or empty. */
const optionalBool = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v === 'true' || v === '1' || v === 'yes'));

const schema = z.object({
  // Unset: off in sandbox/development when no credentials are configured, on otherwise.
  AUTH_DISABLED: optionalBool(),
  AUTH_API_KEYS: envOptionalString(),
  AUTH_API_KEYS_FILE: envOptionalString(),
  AUTH_JWKS_URL: envUrl(),
  AUTH_JWT_ISSUER: envOptionalString(),
  AUTH_JWT_AUDIENCE: csv(''),
  AUTH_JWT_ALGORITHMS: csv('RS256,ES256'),
  AUTH_JWT_CLOCK_TOLERANCE_SECONDS: envInt(30, 0, 300),
  AUTH_JWT_SCOPES_CLAIM: z.string().min(1).max(128).default('scope'),
  AUTH_JWT_PROJECTS_CLAIM: z.string().min(1).max(128).default('maia_projects'),
  AUTH_JWT_SUBJECT_CLAIM: z.string().min(1).max(128).default('sub'),
  AUTH_JWKS_COOLDOWN_MS: envInt(30_000, 0, 3_600_000),
  AUTH_JWKS_CACHE_MAX_AGE_MS: envInt(600_000, 1_000, 86_400_000),
  AUTH_JWKS_TIMEOUT_MS: envInt(5_000, 100, 60_000),

  RATE_LIMIT_ENABLED: optionalBool(),
  RATE_LIMIT_PER_MINUTE: envInt(1_200, 1, 1_000_000),
  RATE_LIMIT_BURST: envInt(300, 1, 1_000_000),
  RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: envInt(60, 1, 1_000_000),
  RATE_LIMIT_SHARE_MAX: envInt(128, 1, 1_000),
  RATE_LIMIT_SHARE_HOLD_MS: envInt(500, 50, 10_000),

  GRAPHQL_MAX_DEPTH: envInt(12, 2, 100),
  GRAPHQL_MAX_ALIASES: envInt(15, 0, 1_000),
  GRAPHQL_MAX_DIRECTIVES: envInt(10, 0, 1_000),
  GRAPHQL_MAX_TOKENS: envInt(2_000, 50, 100_000),
  GRAPHQL_MAX_COST: envInt(5_000, 10, 10_000_000),
  GRAPHQL_FIELD_SUGGESTIONS: optionalBool(),
  GRAPHQL_WS_MAX_PAYLOAD_BYTES: envInt(64 * 1024, 1_024, 10 * 1024 * 1024),
  GRAPHQL_PERSISTED_QUERIES: envBool(true),
  GRAPHQL_PERSISTED_QUERIES_TTL_SECONDS: envInt(86_400, 60, 30 * 86_400),
  GRAPHQL_TRUSTED_DOCUMENTS_FILE: envOptionalString(),
});

function issue(path: string, message: string): z.core.$ZodIssue {
  return { code: 'custom', path: [path], message, input: undefined };
}

function modeOf(env: Env): GatewayMode {
  try {
    return gatewayModeOf(env);
  } catch {
    // GATEWAY_MODE itself is invalid (the server namespace reports it): judge auth by the strictest mode.
    return 'production';
  }
}

function readApiKeys(
  variable: 'AUTH_API_KEYS' | 'AUTH_API_KEYS_FILE',
  text: string,
  issues: z.core.$ZodIssue[],
): ApiKeyConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    issues.push(issue(variable, 'must be a JSON array of { name, sha256, scopes, projects }'));
    return [];
  }
  const parsed = apiKeyList.safeParse(json);
  if (!parsed.success) {
    // Name the entry and field, never the value (a hash is not the key, but nothing is echoed).
    for (const i of parsed.error.issues) issues.push(issue(variable, `[${i.path.join('.')}] ${i.message}`));
    return [];
  }
  return parsed.data.map((k) => ({
    name: k.name,
    sha256: k.sha256,
    scopes: [...new Set(k.scopes)],
    projects: k.projects.includes('*') ? '*' : [...new Set(k.projects.map((p) => p.toLowerCase()))],
  }));
}

/**
 * Who may call the gateway and how hard: API keys, JWT verification, rate limits and GraphQL limits.
 *
 * Fails closed: production mode refuses to start without API keys or a JWKS, and refuses
 * `AUTH_DISABLED=true`. Sandbox and development run open (a loud warning at start) when nothing is
 * configured, so `npm start` on a fresh clone works.
 */
export function authConfig(env: Env) {
  const v = schema.parse(env);
  const mode = modeOf(env);
  const devLike = mode !== 'production';
  const issues: z.core.$ZodIssue[] = [];

  const apiKeys: ApiKeyConfig[] = [];
  if (v.AUTH_API_KEYS) apiKeys.push(...readApiKeys('AUTH_API_KEYS', v.AUTH_API_KEYS, issues));
  if (v.AUTH_API_KEYS_FILE) {
    let text: string | undefined;
    try {
      text = readFileSync(v.AUTH_API_KEYS_FILE, 'utf8');
    } catch {
      issues.push(issue('AUTH_API_KEYS_FILE', 'cannot be read'));
    }
    if (text !== undefined) apiKeys.push(...readApiKeys('AUTH_API_KEYS_FILE', text, issues));
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  for (const key of apiKeys) {
    if (names.has(key.name)) issues.push(issue('AUTH_API_KEYS', `two API keys are named "${key.name}"`));
    if (hashes.has(key.sha256)) issues.push(issue('AUTH_API_KEYS', `API key "${key.name}" repeats a key`));
    names.add(key.name);
    hashes.add(key.sha256);
  }

  const algorithms = v.AUTH_JWT_ALGORITHMS;
  for (const alg of algorithms) {
    if (!(jwtAlgorithms as readonly string[]).includes(alg)) {
      issues.push(issue('AUTH_JWT_ALGORITHMS', `unsupported algorithm "${alg.slice(0, 16)}" (never "none")`));
    }
  }
  const jwksUrl = v.AUTH_JWKS_URL;
  if (jwksUrl) {
    // Without issuer and audience any token signed by that key set would do, including ones minted for
    // other applications of the same identity provider.
    if (!v.AUTH_JWT_ISSUER) issues.push(issue('AUTH_JWT_ISSUER', 'is required with AUTH_JWKS_URL'));
    if (v.AUTH_JWT_AUDIENCE.length === 0)
      issues.push(issue('AUTH_JWT_AUDIENCE', 'is required with AUTH_JWKS_URL'));
    if (mode === 'production' && !jwksUrl.startsWith('https://')) {
      issues.push(issue('AUTH_JWKS_URL', 'must use https in production mode'));
    }
  }

  const configured = apiKeys.length > 0 || jwksUrl !== undefined;
  const disabledSetting = v.AUTH_DISABLED;
  const disabled = disabledSetting ?? (devLike && !configured);
  if (disabled && !devLike) {
    issues.push(issue('AUTH_DISABLED', 'is allowed only in sandbox or development mode (GATEWAY_MODE)'));
  }
  if (!disabled && !configured) {
    issues.push(
      issue(
        'AUTH_API_KEYS',
        devLike
          ? 'set AUTH_API_KEYS, AUTH_API_KEYS_FILE or AUTH_JWKS_URL, or AUTH_DISABLED=true'
          : 'production mode needs AUTH_API_KEYS, AUTH_API_KEYS_FILE or AUTH_JWKS_URL',
      ),
    );
  }
  const trustedFile = v.GRAPHQL_TRUSTED_DOCUMENTS_FILE;
  const trustedOperations: TrustedOperation[] | undefined = trustedFile
    ? readTrustedDocuments(trustedFile, (message) =>
        issues.push(issue('GRAPHQL_TRUSTED_DOCUMENTS_FILE', message)),
      )
    : undefined;

  if (issues.length > 0) throw new z.ZodError(issues);

  return {
    mode,
    /** Everyone is the sandbox principal (every scope, every project). Never in production. */
    disabled,
    apiKeys,
    jwt: jwksUrl
      ? {
          jwksUrl,
          issuer: v.AUTH_JWT_ISSUER as string,
          audience: v.AUTH_JWT_AUDIENCE,
          algorithms: algorithms as JwtAlgorithm[],
          clockToleranceSeconds: v.AUTH_JWT_CLOCK_TOLERANCE_SECONDS,
          scopesClaim: v.AUTH_JWT_SCOPES_CLAIM,
          projectsClaim: v.AUTH_JWT_PROJECTS_CLAIM,
          subjectClaim: v.AUTH_JWT_SUBJECT_CLAIM,
          /** An unknown `kid` refetches the key set at most this often. */
          jwksCooldownMs: v.AUTH_JWKS_COOLDOWN_MS,
          jwksCacheMaxAgeMs: v.AUTH_JWKS_CACHE_MAX_AGE_MS,
          jwksTimeoutMs: v.AUTH_JWKS_TIMEOUT_MS,
        }
      : undefined,
    rateLimit: {
      /** On in production unless turned off; opt-in elsewhere (benchmarks and sandboxes hammer one client). */
      enabled: v.RATE_LIMIT_ENABLED ?? !devLike,
      perMinute: v.RATE_LIMIT_PER_MINUTE,
      burst: v.RATE_LIMIT_BURST,
      /** Requests without valid credentials, counted per client IP. */
      unauthenticatedPerMinute: v.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
      /**
       * Tokens one replica takes from a shared (Redis) bucket ahead of requests, at most, per round trip,
       * spent locally; 1 takes nothing ahead (one round trip per request). See ADR 0027.
       */
      shareMax: v.RATE_LIMIT_SHARE_MAX,
      /** Tokens a replica took but did not spend within this long go back to the shared bucket. */
      shareHoldMs: v.RATE_LIMIT_SHARE_HOLD_MS,
    },
    graphql: {
      maxDepth: v.GRAPHQL_MAX_DEPTH,
      maxAliases: v.GRAPHQL_MAX_ALIASES,
      maxDirectives: v.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: v.GRAPHQL_MAX_TOKENS,
      maxCost: v.GRAPHQL_MAX_COST,
      /** "Did you mean …" hints leak the schema: off in production unless asked for. */
      fieldSuggestions: v.GRAPHQL_FIELD_SUGGESTIONS ?? devLike,
      wsMaxPayloadBytes: v.GRAPHQL_WS_MAX_PAYLOAD_BYTES,
      /** Automatic persisted queries: documents registered by hash, in Redis (memory without Redis). */
      persistedQueries: v.GRAPHQL_PERSISTED_QUERIES,
      persistedQueriesTtlSeconds: v.GRAPHQL_PERSISTED_QUERIES_TTL_SECONDS,
      /** With a manifest, only its documents run (by hash or in full); anything else is refused. */
      trustedDocuments: trustedOperations,
    },
  };
}
export type AuthConfig = ReturnType<typeof authConfig>;
