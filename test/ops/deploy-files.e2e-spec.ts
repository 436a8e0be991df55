import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// js-yaml comes with @nestjs/swagger (a runtime dependency); no Docker or kubectl runs here, so the files
// are checked for what they promise instead.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load(text: string): unknown };

const root = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form YAML documents
type Doc = any;
const load = (path: string): Doc => yaml.load(read(path));

/** Every variable .env.example documents. */
function documentedVariables(): Set<string> {
  return new Set(
    read('.env.example')
      .split('\n')
      .map((line) => /^#?\s*([A-Z][A-Z0-9_]+)=/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined),
  );
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds in one stage and runs production dependencies only, as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM .* AS build$/m);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^EXPOSE 3000$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
  });

  it('runs on Node.js 24 LTS, and its build stage has what npm run build reads (.swcrc)', () => {
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=24$/m);
    expect(dockerfile.match(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^COPY [^\n]*\.swcrc[^\n]* \.\/$/m);
  });

  it('checks /health/live with node itself (no curl in slim images)', () => {
    const check = /^HEALTHCHECK(?:[^\n]*\\\n)*[^\n]*/m.exec(dockerfile)?.[0] ?? '';
    expect(check).toContain('CMD ["node", "-e"');
    expect(check).toContain('/health/live');
    expect(check).not.toContain('curl');
  });

  it('keeps the build context small and secrets out of it', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.env', 'test']) expect(ignored).toContain(entry);
  });
});

describe('docker-compose.yml', () => {
  const compose = load('docker-compose.yml');
  // Compose applies YAML merge keys (`<<: *gateway`); this parser leaves them as they are.
  const services = Object.fromEntries(
    Object.entries(compose.services as Record<string, Doc>).map(([name, service]) => {
      const { '<<': base, ...own } = service;
      return [name, { ...(base ?? {}), ...own }];
    }),
  ) as Record<string, Doc>;

  it('runs Redis, the emulator, two gateway replicas and a load balancer', () => {
    expect(Object.keys(services).sort()).toEqual(['emulator', 'gateway-1', 'gateway-2', 'lb', 'redis']);
    expect(services.emulator.command).toEqual(['node', 'dist/emulator/main.js']);
    expect(services.emulator.environment.EMULATOR_HOST).toBe('0.0.0.0');
  });

  it('points both replicas at the emulator and the one Redis, in development mode', () => {
    for (const name of ['gateway-1', 'gateway-2']) {
      const env = services[name].environment as Record<string, string>;
      expect(env.GATEWAY_MODE).toBe('development');
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.MAIA_BASE_URL).toBe(`http://emulator:${services.emulator.environment.EMULATOR_PORT}/dpc`);
      expect(env.MAIA_TOKEN_URL).toMatch(/^http:\/\/emulator:\d+\/oauth\/dpc\/token$/);
      for (const variable of Object.keys(env)) expect(documentedVariables()).toContain(variable);
      // Longer than drain delay + grace + hooks, so Docker never kills a replica mid-drain.
      const graceSeconds = Number(String(services[name].stop_grace_period).replace(/s$/, ''));
      expect(graceSeconds * 1000).toBeGreaterThan(
        Number(env.SHUTDOWN_DRAIN_DELAY_MS) + Number(env.SHUTDOWN_GRACE_MS) + 5_000,
      );
    }
  });

  it('balances over both replicas, checking their readiness', () => {
    const mount = (services.lb.volumes as string[])[0].split(':')[0];
    expect(existsSync(resolve(root, mount))).toBe(true);
    const config = read(mount);
    expect(config).toMatch(/http-check send meth GET uri \/health\/ready/);
    expect(config).toMatch(/^\s*server gateway-1 gateway-1:3000 check$/m);
    expect(config).toMatch(/^\s*server gateway-2 gateway-2:3000 check$/m);
    expect(config).toMatch(/timeout tunnel/); // WebSockets and SSE
  });
});

describe('Kubernetes manifests', () => {
  const deployment = load('deploy/k8s/deployment.yaml');
  const container = deployment.spec.template.spec.containers[0];

  it('probes readiness and liveness on the right paths, with resources and a non-root context', () => {
    expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    expect(container.startupProbe.httpGet.path).toBe('/health/live');
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits.memory).toBeDefined();
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it('gives shutdown more time than the drain needs', () => {
    const config = load('deploy/k8s/configmap.yaml');
    const neededMs =
      Number(config.data.SHUTDOWN_DRAIN_DELAY_MS) + Number(config.data.SHUTDOWN_GRACE_MS) + 5_000;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(neededMs);
  });

  it('wires Service, HPA, PDB and kustomization to the Deployment', () => {
    const labels = deployment.spec.template.metadata.labels;
    const service = load('deploy/k8s/service.yaml');
    expect(service.spec.selector).toEqual(labels);
    expect(service.spec.ports[0].targetPort).toBe(container.ports[0].name);
    const hpa = load('deploy/k8s/hpa.yaml');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = load('deploy/k8s/pdb.yaml');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    const kustomization = load('deploy/k8s/kustomization.yaml');
    for (const file of kustomization.resources as string[])
      expect(existsSync(resolve(root, 'deploy/k8s', file))).toBe(true);
    expect(kustomization.resources).not.toContain('secret.template.yaml');
  });

  it('uses only documented variables in its ConfigMap and Secret template', () => {
    const documented = documentedVariables();
    const config = load('deploy/k8s/configmap.yaml');
    const secret = load('deploy/k8s/secret.template.yaml');
    const used = [...Object.keys(config.data), ...Object.keys(secret.stringData)].filter(
      (k) => k !== 'NODE_OPTIONS',
    );
    expect(used.filter((name) => !documented.has(name))).toEqual([]);
    expect(Object.keys(secret.stringData)).toEqual(
      expect.arrayContaining(['MAIA_CLIENT_SECRET', 'REDIS_URL']),
    );
    const envFrom = container.envFrom.map((e: Doc) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(envFrom).toEqual([config.metadata.name, secret.metadata.name]);
  });
});
