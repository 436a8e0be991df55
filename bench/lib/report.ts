import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BenchResults, PassThroughResult, ScenarioRow, SubscriptionRound, TargetCheck } from './results';
import { round } from './stats';

/** The table, the target checks and bench/RESULTS.md, all from one BenchResults. */

const fmt = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value)
    ? '-'
    : round(value, digits).toLocaleString('en-US');
// autocannon records latency in whole milliseconds: a 0 there means "under one millisecond".
const ms = (value: number | null | undefined): string => (value === 0 ? '<1' : fmt(value, 2));
const ratio = (value: number | null | undefined): string =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : `${round(value, 2).toFixed(2)}x`;

interface TableRow {
  scenario: string;
  reqPerSec: string;
  p50: string;
  p99: string;
  rss: string;
  cpu: string;
  limit: string;
  peer: string;
}

function tableRows(results: BenchResults): TableRow[] {
  const rows: TableRow[] = results.rows.map((row: ScenarioRow) =>
    row.status === 'ok'
      ? {
          scenario: row.title,
          reqPerSec: fmt(row.reqPerSec, 0),
          p50: ms(row.p50Ms),
          p99: ms(row.p99Ms),
          rss: fmt(row.rssMb, 0),
          cpu: fmt(row.cpuMsPerRequest, 3),
          limit: ratio(row.ratioToLimit),
          peer: ratio(row.ratioToPeer),
        }
      : { scenario: row.title, reqPerSec: 'ERROR', p50: '', p99: '', rss: '', cpu: '', limit: '', peer: '' },
  );
  for (const pass of results.passThrough) {
    if (pass.status !== 'ok' || !pass.direct || !pass.gateway) {
      rows.push({
        scenario: pass.title,
        reqPerSec: 'ERROR',
        p50: '',
        p99: '',
        rss: '',
        cpu: '',
        limit: '',
        peer: '',
      });
      continue;
    }
    rows.push({
      scenario: `${pass.title}: emulator direct`,
      reqPerSec: '1 at a time',
      p50: fmt(pass.direct.p50, 2),
      p99: fmt(pass.direct.p99, 2),
      rss: '',
      cpu: '',
      limit: '',
      peer: '',
    });
    rows.push({
      scenario: `${pass.title}: via gateway (+${fmt(pass.addedP50Ms, 2)} ms p50)`,
      reqPerSec: '1 at a time',
      p50: fmt(pass.gateway.p50, 2),
      p99: fmt(pass.gateway.p99, 2),
      rss: '',
      cpu: '',
      limit: '',
      peer: '',
    });
  }
  return rows;
}

const HEADER: TableRow = {
  scenario: 'scenario',
  reqPerSec: 'req/s',
  p50: 'p50 ms',
  p99: 'p99 ms',
  rss: 'RSS MB',
  cpu: 'CPU ms/req',
  limit: 'x limit',
  peer: 'x peer',
};
const COLUMNS: (keyof TableRow)[] = ['scenario', 'reqPerSec', 'p50', 'p99', 'rss', 'cpu', 'limit', 'peer'];

export function formatTable(results: BenchResults): string {
  const rows = [HEADER, ...tableRows(results)];
  const widths = COLUMNS.map((column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: TableRow) =>
    COLUMNS.map((column, i) =>
      i === 0 ? row[column].padEnd(widths[i]) : row[column].padStart(widths[i]),
    ).join('  ');
  const out = [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  return out.join('\n');
}

function subscriptionLine(round_: SubscriptionRound): string {
  if (round_.status !== 'ok') return `${round_.subscribers} subscribers: ERROR ${round_.error ?? ''}`;
  return (
    `${round_.subscribers} subscribers: joined in ${fmt(round_.connectAllMs, 0)} ms (one join p50 ${fmt(round_.connect?.p50, 1)} / ` +
    `p99 ${fmt(round_.connect?.p99, 1)} ms); RSS ${fmt(round_.rssBeforeMb, 0)} -> ${fmt(round_.rssAfterMb, 0)} MB ` +
    `(peak ${fmt(round_.rssPeakMb, 0)}), ${fmt(round_.rssPerSubscriberKb, 1)} KB/subscriber; terminal status to all: ` +
    `fan-out p50 ${fmt(round_.fanOut?.p50, 0)} / p99 ${fmt(round_.fanOut?.p99, 0)} ms, from the upstream change ` +
    `p50 ${fmt(round_.fromUpstream?.p50, 0)} / p99 ${fmt(round_.fromUpstream?.p99, 0)} ms; upstream: ${round_.statusCalls} status + ` +
    `${round_.detailsCalls} details calls in ${fmt((round_.windowMs ?? 0) / 1000, 1)} s (one poller: <= ${round_.maxPollsOfOnePoller})`
  );
}

export function formatDetails(results: BenchResults): string {
  const lines: string[] = [];
  const s = results.stampede;
  if (s) {
    lines.push(
      s.status === 'ok'
        ? `stampede: ${s.requests} concurrent cold projects queries -> ${s.listProjectsCalls} upstream listProjects call(s); ` +
            `all answered in ${fmt(s.totalMs, 0)} ms (p50 ${fmt(s.latency?.p50, 0)} / p99 ${fmt(s.latency?.p99, 0)} ms)`
        : `stampede: ERROR ${s.error ?? ''}`,
    );
  }
  for (const round_ of results.subscriptions) lines.push(subscriptionLine(round_));
  return lines.join('\n');
}

function find(results: BenchResults, id: string): ScenarioRow | undefined {
  return results.rows.find((row) => row.id === id && row.status === 'ok');
}

function passOf(results: BenchResults, id: string): PassThroughResult | undefined {
  return results.passThrough.find((p) => p.id === id && p.status === 'ok');
}

/** The issue's targets, each checked against what this run measured. */
export function checkTargets(
  results: BenchResults,
  minIntervalMs: number,
  maxIntervalMs: number,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rest = find(results, 'gateway.rest-projects');
  checks.push({
    id: 'rest-cached-read',
    description: 'REST cached read vs the raw node:http limit',
    target: '>= 0.50x limit',
    measured: rest ? ratio(rest.ratioToLimit) : 'not measured',
    pass: rest?.ratioToLimit != null ? rest.ratioToLimit >= 0.5 : null,
  });
  const gql = find(results, 'gateway.graphql-projects');
  checks.push({
    id: 'graphql-cached-read',
    description: 'GraphQL cached read vs the plain Apollo Server peer',
    target: '>= 1.50x peer',
    measured: gql ? ratio(gql.ratioToPeer) : 'not measured',
    pass: gql?.ratioToPeer != null ? gql.ratioToPeer >= 1.5 : null,
  });
  for (const [id, label] of [
    ['passthrough.graphql-execution', 'GraphQL'],
    ['passthrough.rest-execution', 'REST'],
  ] as const) {
    const pass = passOf(results, id);
    checks.push({
      id: `${id}-added-p50`,
      description: `Uncached pass-through (${label} pipelineExecution), latency added at the median`,
      target: '<= 1.00 ms',
      measured: pass?.addedP50Ms !== undefined ? `${fmt(pass.addedP50Ms, 2)} ms` : 'not measured',
      pass: pass?.addedP50Ms !== undefined ? pass.addedP50Ms <= 1 : null,
    });
  }
  const rounds = results.subscriptions.filter((r) => r.status === 'ok');
  const largest = rounds.sort((a, b) => b.subscribers - a.subscribers)[0];
  if (largest) {
    const n = largest.subscribers;
    const at = `at ${n.toLocaleString('en-US')}`;
    const rssAt10k =
      n >= 10_000
        ? (largest.rssPeakMb ?? Infinity)
        : (largest.rssBeforeMb ?? 0) + ((largest.rssPerSubscriberKb ?? 0) * 10_000) / 1024;
    checks.push({
      id: 'subscribers-rss',
      description: `10 000 subscribers: gateway RSS${n >= 10_000 ? ' (peak)' : `, extrapolated from ${n} (baseline + per-subscriber x 10 000)`}`,
      target: '< 1024 MB',
      measured: `${fmt(rssAt10k, 0)} MB`,
      pass: rssAt10k < 1024,
    });
    checks.push({
      id: 'subscribers-fanout-p99',
      description: `Terminal status to every subscriber ${at}, p99 from the leader's observation (event.at)`,
      target: '<= 1000 ms',
      measured: `${fmt(largest.fanOut?.p99, 0)} ms`,
      pass: largest.fanOut ? largest.fanOut.p99 <= 1000 : null,
    });
    // Polling is the product's design: the change is seen at the next poll, whose interval grows with the run.
    const intervalMs = Math.min(maxIntervalMs, minIntervalMs + (largest.runMs ?? 0) / 10);
    checks.push({
      id: 'subscribers-upstream-p99',
      description: `Terminal status to every subscriber ${at}, p99 from the upstream change (includes up to one poll interval, ${fmt(intervalMs / 1000, 1)} s here)`,
      target: `<= ${fmt((intervalMs + 1000) / 1000, 1)} s`,
      measured: `${fmt(largest.fromUpstream?.p99, 0)} ms`,
      pass: largest.fromUpstream ? largest.fromUpstream.p99 <= intervalMs + 1000 : null,
    });
    for (const r of rounds) {
      checks.push({
        id: `subscribers-${r.subscribers}-one-poller`,
        description: `${r.subscribers} subscribers: upstream status calls (one poller at most, whatever the subscriber count)`,
        target: `<= ${r.maxPollsOfOnePoller} status and <= ${r.maxPollsOfOnePoller} details calls`,
        measured: `${r.statusCalls} status + ${r.detailsCalls} details in ${fmt((r.windowMs ?? 0) / 1000, 1)} s, max ${r.maxStatusCallsPerSecond}/s`,
        pass:
          (r.statusCalls ?? Infinity) <= (r.maxPollsOfOnePoller ?? 0) &&
          (r.detailsCalls ?? Infinity) <= (r.maxPollsOfOnePoller ?? 0),
      });
    }
  } else if (results.groups.includes('subscriptions')) {
    checks.push({
      id: 'subscribers',
      description: 'Subscribers: RSS, delivery p99, one poller',
      target: 'see the issue',
      measured: results.subscriptions[0]?.error ?? 'not measured',
      pass: null,
    });
  }
  const stampede = results.stampede;
  if (stampede) {
    checks.push({
      id: 'stampede',
      description: `Cold-cache stampede of ${stampede.requests} identical queries: upstream listProjects calls`,
      target: 'exactly 1',
      measured:
        stampede.listProjectsCalls !== undefined ? String(stampede.listProjectsCalls) : 'not measured',
      pass:
        stampede.status === 'ok' && stampede.listProjectsCalls !== undefined
          ? stampede.listProjectsCalls === 1
          : null,
    });
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map(
      (c) =>
        `${c.pass === null ? 'N/A ' : c.pass ? 'PASS' : 'MISS'}  ${c.description}: ${c.measured} (target ${c.target})`,
    )
    .join('\n');
}

const START = '<!-- bench:figures:start (written by npm run bench; edit outside the markers) -->';
const END = '<!-- bench:figures:end -->';

/** Rewrites the generated block of bench/RESULTS.md, keeping everything outside it (the findings). */
export function recordResults(path: string, results: BenchResults): void {
  const m = results.machine;
  const block = [
    START,
    '',
    `Last recorded run: **${results.mode}** mode, ${m.date} (${results.durationSeconds} s), commit \`${m.commit}\`.`,
    `Machine: ${m.nproc} cores (\`nproc\`), ${m.cpuModel}, ${m.totalMemoryMb} MB RAM, Node ${m.node}, ` +
      `load average at start ${m.loadAverage1m}. Pinning: ${results.cores.note}.`,
    `Budget: ${results.budget.connections} connections, warm-up until throughput holds steady (at most ${results.budget.warmupSeconds} s) + ` +
      `${results.budget.durationSeconds} s per throughput run; ${results.budget.pairedSamples} interleaved single requests per pass-through side.`,
    '',
    '```',
    formatTable(results),
    '```',
    '',
    '```',
    formatDetails(results),
    '```',
    '',
    '| target | measured | required | |',
    '|---|---|---|---|',
    ...results.targets.map(
      (c) =>
        `| ${c.description} | ${c.measured} | ${c.target} | ${c.pass === null ? 'N/A' : c.pass ? 'PASS' : '**MISS**'} |`,
    ),
    ...(results.warnings.length ? ['', ...results.warnings.map((w) => `> warning: ${w}`)] : []),
    '',
    END,
  ].join('\n');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : `# Benchmark results\n\n${START}\n${END}\n`;
  const start = current.indexOf(START.slice(0, 24));
  const end = current.indexOf(END);
  const next =
    start === -1 || end === -1
      ? `${current.trimEnd()}\n\n${block}\n`
      : `${current.slice(0, start)}${block}${current.slice(end + END.length)}`;
  writeFileSync(path, next);
}
