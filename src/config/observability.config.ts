import { z } from 'zod';
import { envBool, envInt, envOptionalString, envUrl, type Env } from './env';

const schema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: envUrl(),
  OTEL_SERVICE_NAME: envOptionalString(),
  METRICS_ENABLED: envBool(true),
  HEALTH_REDIS_TIMEOUT_MS: envInt(300, 10, 10_000),
  SHUTDOWN_DRAIN_DELAY_MS: envInt(5_000, 0, 60_000),
  LOG_HEALTH_REQUESTS: envBool(false),
});

/**
 * Operations: metrics, traces, health probes and the shutdown drain. `LOG_LEVEL` and `SHUTDOWN_GRACE_MS`
 * stay in the server namespace, where they were first declared.
 */
export function observabilityConfig(env: Env) {
  const v = schema.parse(env);
  return {
    /** OTLP/HTTP base URL (e.g. http://otel-collector:4318); traces are off when unset. */
    otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: v.OTEL_SERVICE_NAME ?? 'maia-gateway',
    metricsEnabled: v.METRICS_ENABLED,
    /** The readiness probe's Redis PING gives up after this long and reports Redis as degraded. */
    healthRedisTimeoutMs: v.HEALTH_REDIS_TIMEOUT_MS,
    /**
     * After SIGTERM, readiness fails at once but the listener keeps accepting (and answering, each answer
     * with `Connection: close`) for this long, so load balancers stop routing here before connections are
     * refused. 5 s by default: Kubernetes removes a terminating pod's endpoint at the same time as it
     * signals it, and kube-proxies, ingresses and HAProxy's readiness checks take a few seconds to notice;
     * 5 s fits well inside the default 30 s termination grace with `SHUTDOWN_GRACE_MS`.
     */
    shutdownDrainDelayMs: v.SHUTDOWN_DRAIN_DELAY_MS,
    /** Probes and scrapes are not logged unless asked for (they would drown everything else). */
    logHealthRequests: v.LOG_HEALTH_REQUESTS,
  };
}
export type ObservabilityConfig = ReturnType<typeof observabilityConfig>;
