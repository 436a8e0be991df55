import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root, found from this file whether it runs compiled (dist/bench) or under ts-jest. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'maia-gateway'
    ) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no maia-gateway package.json above ${__dirname}`);
    dir = parent;
  }
}

export const ROOT = repoRoot();
export const SEED_PATH = resolve(ROOT, 'src', 'emulator', 'seed.json');
/** The gateway build under test: BENCH_GATEWAY_MAIN (another build, for an A/B run) or this one. */
export const GATEWAY_MAIN = process.env.BENCH_GATEWAY_MAIN
  ? resolve(process.env.BENCH_GATEWAY_MAIN)
  : resolve(ROOT, 'dist', 'main.js');
export const EMULATOR_MAIN = resolve(ROOT, 'dist', 'emulator', 'main.js');
/** Compiled benchmark servers sit beside the compiled harness (dist/bench/servers). */
export const BENCH_DIST = resolve(ROOT, 'dist', 'bench');

interface SeedShape {
  projects: {
    id: string;
    name: string;
    pipelines: { name: string; environments: string[]; steps: { durationMs: number }[] }[];
  }[];
  history: { pipelineExecutionId: string; projectId: string }[];
}

/** What the benchmarks need to know of the emulator's deterministic world. */
export function seedFacts() {
  const seed = JSON.parse(readFileSync(SEED_PATH, 'utf8')) as SeedShape;
  const project = seed.projects[0];
  const pipeline = (name: string) => {
    const found = project.pipelines.find((p) => p.name === name);
    if (!found) throw new Error(`seed has no pipeline ${name} in ${project.name}`);
    return { name, scriptedMs: found.steps.reduce((sum, step) => sum + step.durationMs, 0) };
  };
  const history = seed.history.find((h) => h.projectId === project.id) ?? seed.history[0];
  return {
    projectCount: seed.projects.length,
    projectIds: seed.projects.map((p) => p.id),
    /** The seed's finished runs: reading one is always an upstream call. */
    history: seed.history.map((h) => ({ projectId: h.projectId, executionId: h.pipelineExecutionId })),
    projectId: project.id,
    environmentName: 'Dev',
    /** A short run for execute throughput (finishes in seconds, so the pollers it starts stop soon). */
    shortPipeline: pipeline('FOLDER/load_orders.orch.yaml'),
    /** A long run whose end the subscription benchmark places by scaling time. */
    longPipeline: pipeline('FOLDER/long_backfill.orch.yaml'),
    /** A finished seed run: reading it is always an upstream call (executions are never cached). */
    historyExecution: { projectId: history.projectId, executionId: history.pipelineExecutionId },
  };
}
export type SeedFacts = ReturnType<typeof seedFacts>;
