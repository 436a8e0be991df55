import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './lib/repo';

/**
 * `node dist/bench/profile-summary.js <file.cpuprofile> [top]`: where a `--cpu-prof` profile spent its
 * time. Self time by function (file:function) and by area (a package under node_modules, or a source
 * folder of the gateway), and inclusive ("total") time of the gateway's own functions, as shares of the
 * busy (non-idle) time after start-up.
 */

/** A V8 CPU profile (`--cpu-prof`), as far as the bench's readers use it. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string): string {
  if (!url) return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (path.startsWith('node:')) return 'node:internal';
  const rel = relative(ROOT, path);
  if (rel.startsWith('..')) return path;
  const parts = rel.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : rel;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  const short =
    nm !== -1 ? path.slice(nm + 'node_modules/'.length) : path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${short || '(native)'}:${functionName || '(anonymous)'}:${lineNumber + 1}`;
}

function main(): void {
  const [file, topArg, focus] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top=25] [focus: path part]');
    process.exit(64);
  }
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Start-up (module loading, Nest's wiring) is not what a benchmark asks about: skip every sample up to
  // the last one taken inside dist/main.js, i.e. until the server listened.
  const inMain = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if ((byId.get(cur) as ProfileNode).callFrame.url.endsWith('/dist/main.js')) return true;
    }
    return false;
  };
  let firstSample = 0;
  profile.samples.forEach((id, i) => {
    if (inMain(id)) firstSample = i + 1;
  });
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (i >= firstSample) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  let idleUs = 0;
  let busyUs = 0;
  const selfByLabel = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const totalByLabel = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + us);
    selfByArea.set(area(node.callFrame.url), (selfByArea.get(area(node.callFrame.url)) ?? 0) + us);
    // Inclusive time: charge every distinct frame on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur) as ProfileNode;
      const l = label(frame);
      if (seen.has(l)) continue;
      seen.add(l);
      totalByLabel.set(l, (totalByLabel.get(l) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
  const list = (title: string, map: Map<string, number>, filter: (k: string) => boolean = () => true) => {
    console.log(`\n${title}`);
    [...map.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .forEach(([k, us]) => console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`));
  };
  console.log(`busy ${(busyUs / 1000).toFixed(0)} ms, idle/program ${(idleUs / 1000).toFixed(0)} ms`);
  list('self time by area', selfByArea);
  list('self time by function', selfByLabel);
  list("total (inclusive) time of the gateway's own functions", totalByLabel, (k) => k.startsWith('dist/'));
  if (focus)
    list(`total (inclusive) time of functions matching "${focus}"`, totalByLabel, (k) => k.includes(focus));
}

main();
