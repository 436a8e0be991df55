import { readFileSync } from 'node:fs';
import type { Profile, ProfileNode } from '../profile-summary';

/**
 * Who calls a function, weighted by the time spent in it: for a self-time entry of the profile summary
 * that says "native" or "node:internal" (a write, the garbage collector, microtasks), the gateway frames
 * above it say which of its own steps pays for it.
 *
 *   node dist/bench/engine/callers.js <file.cpuprofile> <function name regex> [frames=6] [top=15]
 */

function label(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/');
  return `${url || '(native)'}:${node.callFrame.functionName || '(anonymous)'}`;
}

function main(): void {
  const [file, pattern, framesArg, topArg] = process.argv.slice(2);
  if (!file || !pattern) {
    process.stderr.write(
      'usage: node dist/bench/engine/callers.js <file.cpuprofile> <regex> [frames] [top]\n',
    );
    process.exit(2);
  }
  const frames = Number(framesArg ?? 6);
  const top = Number(topArg ?? 15);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const match = new RegExp(pattern);
  const stacks = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || !match.test(label(node))) continue;
    totalUs += us;
    const chain: string[] = [];
    let at: number | undefined = parent.get(id);
    while (at !== undefined && chain.length < frames) {
      const up = byId.get(at);
      if (!up) break;
      chain.push(label(up));
      at = parent.get(at);
    }
    const key = chain.join(' < ');
    stacks.set(key, (stacks.get(key) ?? 0) + us);
  }
  process.stdout.write(`${(totalUs / 1000).toFixed(0)} ms in functions matching ${pattern}\n`);
  for (const [key, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
  }
}

main();
