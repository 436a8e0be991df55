import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './lib/repo';
import type { BenchResults, StampedeResult } from './lib/results';

/**
 * `node dist/bench/stampede-profile.js <file.cpuprofile> <results.json> [top=20]`: where a profiled
 * gateway (`--profile`) spent its time during a stampede the results file recorded, cut at the stampede's
 * moments (`monotonicUs`, the profile's own clock): from the first query to the upstream call, during the
 * call, and from the call's end to the last answer. Per window: busy and idle milliseconds, garbage
 * collection, self time by area and the heaviest functions (self), and the gateway's own functions
 * (inclusive) after the call.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortPath(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

function area(url: string): string {
  if (!url) return '(native)';
  const path = shortPath(url);
  if (path.startsWith('node:')) return 'node:internal';
  const parts = path.split('/');
  if (url.includes('node_modules/')) return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${shortPath(url) || '(native)'}:${functionName || '(anonymous)'}:${lineNumber + 1}`;
}

interface Window {
  name: string;
  from: number;
  to: number;
}

function main(): void {
  const [profileFile, resultsFile, topArg] = process.argv.slice(2);
  if (!profileFile || !resultsFile) {
    console.error('usage: node dist/bench/stampede-profile.js <file.cpuprofile> <results.json> [top=20]');
    process.exit(64);
  }
  const top = Number(topArg ?? 20);
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as Profile;
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchResults;
  const stampedes: StampedeResult[] = results.runs.flatMap((run) => [
    ...(run.stampedeFreshRuns ?? (run.stampede ? [run.stampede] : [])),
    ...(run.stampedeWarm ? [run.stampedeWarm] : []),
  ]);
  const inProfile = stampedes.filter(
    (s) =>
      s.monotonicUs &&
      s.monotonicUs.firstQuery >= profile.startTime &&
      s.monotonicUs.lastAnswer <= profile.endTime,
  );
  if (inProfile.length === 0) {
    console.error('no stampede of the results file happened while this profile was taken');
    process.exit(1);
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Sample i was taken at startTime + the sum of timeDeltas[0..i]; it stands for the time since the last.
  const at: number[] = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) at.push((t += delta));

  for (const stampede of inProfile) {
    const m = stampede.monotonicUs as NonNullable<StampedeResult['monotonicUs']>;
    console.log(
      `\n=== ${stampede.process ?? 'fresh'} stampede (${stampede.requests} queries; p99 after the call ${stampede.afterUpstreamEnd?.p99 ?? '-'} ms)`,
    );
    const windows: Window[] =
      m.upstreamStart !== undefined && m.upstreamEnd !== undefined
        ? [
            { name: 'first query -> upstream call', from: m.firstQuery, to: m.upstreamStart },
            { name: 'during the upstream call', from: m.upstreamStart, to: m.upstreamEnd },
            { name: "upstream call's end -> last answer", from: m.upstreamEnd, to: m.lastAnswer },
          ]
        : [{ name: 'first query -> last answer', from: m.firstQuery, to: m.lastAnswer }];
    for (const window of windows) {
      let busy = 0;
      let idle = 0;
      let gc = 0;
      const selfByArea = new Map<string, number>();
      const selfByLabel = new Map<string, number>();
      const totalByLabel = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        if (at[i] <= window.from || at[i] > window.to) return;
        const us = profile.timeDeltas[i] ?? 0;
        const node = byId.get(id) as ProfileNode;
        const name = node.callFrame.functionName;
        if (name === '(idle)' || name === '(program)') {
          idle += us;
          return;
        }
        busy += us;
        if (name === '(garbage collector)') gc += us;
        const a = area(node.callFrame.url);
        selfByArea.set(a, (selfByArea.get(a) ?? 0) + us);
        selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + us);
        const seen = new Set<string>();
        for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
          const l = label(byId.get(cur) as ProfileNode);
          if (seen.has(l)) continue;
          seen.add(l);
          totalByLabel.set(l, (totalByLabel.get(l) ?? 0) + us);
        }
      });
      const ms = (us: number) => (us / 1000).toFixed(1);
      console.log(
        `\n-- ${window.name}: ${ms(window.to - window.from)} ms wall, ${ms(busy)} ms busy (gc ${ms(gc)}), ${ms(idle)} ms idle/program`,
      );
      const list = (title: string, map: Map<string, number>, n: number, filter = (_: string) => true) => {
        console.log(`  ${title}`);
        [...map.entries()]
          .filter(([k]) => filter(k))
          .sort((a, b) => b[1] - a[1])
          .slice(0, n)
          .forEach(([k, us]) =>
            console.log(
              `  ${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}% ${ms(us).padStart(7)} ms  ${k}`,
            ),
          );
      };
      list('self by area', selfByArea, Math.min(top, 12));
      list('self by function', selfByLabel, top);
      list('inclusive, the gateway and its frameworks', totalByLabel, top, (k) => !k.startsWith('node:'));
    }
  }
}

main();
