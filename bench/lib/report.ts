import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ScenarioGroup } from './options';
import type {
  BenchResults,
  PassThroughResult,
  RoundRatios,
  RuntimeInfo,
  RuntimeRun,
  ScenarioRow,
  StampedeGroup,
  StampedeResult,
  SubscriptionRound,
  TargetCheck,
} from './results';
import { round } from './stats';
import { lopsidedRounds, roundRatios } from './dashboard-mix';

/**
 * The tables, the target checks and bench/RESULTS.md, all from one BenchResults: one table and one set
 * of target checks per runtime (each runtime's ratios are to its own baselines), the production one
 * marked.
 */

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
  cache: string;
  auth: string;
  callers: string;
  hits: string;
  reqPerSec: string;
  p50: string;
  p99: string;
  rss: string;
  cpu: string;
  limit: string;
  peer: string;
}

function tableRows(results: RuntimeRun): TableRow[] {
  const settingsOf = (row: ScenarioRow) => ({
    cache: row.settings.responseCache,
    auth:
      row.settings.auth === 'none'
        ? '-'
        : `${row.settings.auth}${row.settings.rateLimits === 'on' ? '+limits' : ''}`,
    callers: String(row.settings.callers),
    hits: row.hotRead?.hitRateOfAll != null ? `${fmt(row.hotRead.hitRateOfAll * 100, 0)}%` : '-',
  });
  const blank = { cache: '', auth: '', callers: '', hits: '' };
  // The figures of a row that did not run: ERROR where its throughput would be, nothing else.
  const failedCells = { reqPerSec: 'ERROR', p50: '', p99: '', rss: '', cpu: '', limit: '', peer: '' };
  const rows: TableRow[] = results.rows.map((row: ScenarioRow) =>
    row.status === 'ok'
      ? {
          scenario: row.title,
          ...settingsOf(row),
          reqPerSec: fmt(row.reqPerSec, 0),
          p50: ms(row.p50Ms),
          p99: ms(row.p99Ms),
          rss: fmt(row.rssMb, 0),
          cpu: fmt(row.cpuMsPerRequest, 3),
          limit: ratio(row.ratioToLimit),
          peer: ratio(row.ratioToPeer),
        }
      : {
          scenario: row.title,
          ...settingsOf(row),
          ...failedCells,
        },
  );
  for (const pass of results.passThrough) {
    if (pass.status !== 'ok' || !pass.direct || !pass.gateway) {
      rows.push({
        scenario: pass.title,
        ...blank,
        ...failedCells,
      });
      continue;
    }
    rows.push({
      scenario: `${pass.title}: emulator direct`,
      ...blank,
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
      ...blank,
      cache: pass.settings?.responseCache ?? '',
      auth: pass.settings ? `${pass.settings.auth}${pass.settings.rateLimits === 'on' ? '+limits' : ''}` : '',
      callers: pass.settings ? String(pass.settings.callers) : '',
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
  cache: 'cache',
  auth: 'auth',
  callers: 'callers',
  hits: 'hits',
  reqPerSec: 'req/s',
  p50: 'p50 ms',
  p99: 'p99 ms',
  rss: 'RSS MB',
  cpu: 'CPU ms/req',
  limit: 'x limit',
  peer: 'x peer',
};
const COLUMNS: (keyof TableRow)[] = [
  'scenario',
  'cache',
  'auth',
  'callers',
  'hits',
  'reqPerSec',
  'p50',
  'p99',
  'rss',
  'cpu',
  'limit',
  'peer',
];

/** How a runtime is named above its table and in the targets: its version, and which one production runs. */
export function runtimeLabel(runtime: RuntimeInfo): string {
  const role = runtime.production
    ? "the production runtime: the Dockerfile's"
    : runtime.source === 'harness'
      ? "the machine's, running the harness"
      : runtime.path;
  return `Node ${runtime.version} (${role})`;
}

export function formatTable(results: RuntimeRun): string {
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
  if (round_.status !== 'ok' && !round_.fanOut)
    return `${round_.subscribers} subscribers: ERROR ${round_.error ?? ''}`;
  // A round with failures still shows what it measured (its targets stay unjudged).
  const failure = round_.status === 'ok' ? '' : ` [ERROR ${round_.error ?? ''}]`;
  return (
    `${round_.subscribers} subscribers (${round_.generatorProcesses ?? 1} generator processes): joined in ${fmt(round_.connectAllMs, 0)} ms (one join p50 ${fmt(round_.connect?.p50, 1)} / ` +
    `p99 ${fmt(round_.connect?.p99, 1)} ms); RSS ${fmt(round_.rssBeforeMb, 0)} -> ${fmt(round_.rssAfterMb, 0)} MB ` +
    `(peak ${fmt(round_.rssPeakMb, 0)}), ${fmt(round_.rssPerSubscriberKb, 1)} KB/subscriber; terminal status to all: ` +
    `fan-out p50 ${fmt(round_.fanOut?.p50, 0)} / p99 ${fmt(round_.fanOut?.p99, 0)} ms (CPU per subscriber: gateway ${fmt(round_.fanOutCpuUsPerSubscriber, 1)} µs, generator ${fmt(round_.generatorCpuUsPerSubscriber, 1)} µs), from the upstream change ` +
    `p50 ${fmt(round_.fromUpstream?.p50, 0)} / p99 ${fmt(round_.fromUpstream?.p99, 0)} ms; upstream: ${round_.statusCalls} status + ` +
    `${round_.detailsCalls} details calls in ${fmt((round_.windowMs ?? 0) / 1000, 1)} s (one poller: <= ${round_.maxPollsOfOnePoller})` +
    failure
  );
}

export function formatDetails(results: RuntimeRun): string {
  const lines: string[] = [];
  const groups: { group: StampedeGroup; cache: string; judgedLabel: string }[] = [
    {
      group: {
        fresh: results.stampedeFreshRuns ?? (results.stampede ? [results.stampede] : []),
        judged: results.stampede,
        warm: results.stampedeWarm,
      },
      cache: results.stampedeWholeAnswer ? 'whole-answer cache off, ' : '',
      judgedLabel: ', the run judged',
    },
  ];
  if (results.stampedeWholeAnswer) {
    groups.push({
      group: results.stampedeWholeAnswer,
      cache: 'whole-answer cache on: identical reads in flight answered once, not judged, ',
      judgedLabel: ', the median run',
    });
  }
  for (const { group, cache, judgedLabel } of groups) {
    const freshRuns = group.fresh;
    for (const s of [...freshRuns, group.warm]) {
      if (!s) continue;
      const judged = freshRuns.length > 1 && s === group.judged ? judgedLabel : '';
      const which =
        cache +
        (s.process === 'warm'
          ? 'warm gateway, cache invalidated'
          : freshRuns.length > 1
            ? `fresh gateway ${freshRuns.indexOf(s) + 1} of ${freshRuns.length}${judged}`
            : 'fresh gateway');
      lines.push(
        s.status === 'ok'
          ? `stampede (${which}): ${s.requests} concurrent cold projects queries on ${fmt(s.connectionSetup?.connections, 0)} connections opened beforehand ` +
              `(all open in ${fmt(s.connectionSetup?.allOpenMs, 0)} ms; first request p50 ${fmt(s.connectionSetup?.firstRequest.p50, 0)} / p99 ${fmt(s.connectionSetup?.firstRequest.p99, 0)} ms) ` +
              `-> ${s.listProjectsCalls} upstream listProjects call(s) (sent ${fmt(s.upstreamCall?.startAfterMs, 1)} ms after the first query, took ${fmt(s.upstreamCall?.durationMs, 1)} ms); ` +
              (s.laneServed === undefined ? '' : `the GraphQL query lane served ${s.laneServed} of them; `) +
              `all answered in ${fmt(s.totalMs, 0)} ms (p50 ${fmt(s.latency?.p50, 0)} / p99 ${fmt(s.latency?.p99, 0)} ms), ` +
              `after the upstream call's end p50 ${fmt(s.afterUpstreamEnd?.p50, 1)} / p99 ${fmt(s.afterUpstreamEnd?.p99, 1)} ms ` +
              `(gateway CPU ${fmt(s.gatewayCpuBeforeUpstreamMs, 0)} ms before the call, ${fmt(s.gatewayCpuAfterUpstreamMs, 0)} ms after; ` +
              `harness CPU ${fmt(s.harnessCpuMs, 0)} ms, its event loop up to ${fmt(s.harnessLoopDelayMaxMs, 0)} ms late)`
          : `stampede (${which}): ERROR ${s.error ?? ''}`,
      );
    }
  }
  for (const row of results.rows) {
    const rounds = row.ratioRounds;
    if (row.status !== 'ok' || !rounds) continue;
    const each = rounds.ratios.map((r) => ratio(r)).join(', ');
    const spread = `(spread ${ratio(rounds.min)}-${ratio(rounds.max)}${roundsNote(rounds)})`;
    lines.push(
      rounds.of === 'reqPerSec'
        ? `${row.title}: ${ratio(rounds.median)} ${rounds.against.split('.')[0]} (${rounds.against}), median of ${rounds.ratios.length} interleaved round(s) of req/s ratios: ${each} ${spread}`
        : `${row.title}: CPU per request ${ratio(rounds.median)} that of ${rounds.against}, median of ${rounds.ratios.length} interleaved round(s): ${each} ${spread}` +
            (row.settings.graphqlQueryLane === 'off' ? `; ${laneShareNote(results, rounds.against)}` : ''),
    );
  }
  for (const row of results.rows) {
    if (row.status !== 'ok' || !row.hotRead || row.group !== 'mix') continue;
    lines.push(
      `${row.title}: ${row.distinctRequests} distinct requests; whole-answer cache hits ${row.hotRead.hits} of ${row.requests} requests ` +
        `(${fmt((row.hotRead.hitRateOfAll ?? 0) * 100, 1)}%; ${fmt((row.hotRead.hitRate ?? 0) * 100, 1)}% of the ${row.hotRead.hits + row.hotRead.misses} cacheable); ` +
        (row.laneServed === undefined
          ? ''
          : `GraphQL query lane served ${row.laneServed} (${fmt(row.requests ? (100 * row.laneServed) / row.requests : 0, 1)}%); `) +
        `upstream ${Object.entries(row.upstreamCalls ?? {})
          .map(([route, n]) => `${route} ${n}`)
          .join(', ')}; log ${fmt(row.logBytesPerRequest, 0)} B/request`,
    );
  }
  for (const round_ of results.subscriptions) lines.push(subscriptionLine(round_));
  return lines.join('\n');
}

/** What the lane-off mix's ratio stands for: the lane's share of the mix's CPU, and how much it served. */
function laneShareNote(results: RuntimeRun, againstId: string): string {
  const on = find(results, againstId);
  const served =
    on?.laneServed === undefined || !on.requests
      ? 'requests the lane served: not read from the gateway'
      : `the lane served ${on.laneServed} of its ${on.requests} requests (${fmt((100 * on.laneServed) / on.requests, 1)}%)`;
  return `the GraphQL query lane's share of the mix's CPU (${served})`;
}

/**
 * Each row's ratios to its runtime's own baselines: its req/s over the raw limit's and over the peer's of
 * the same query shape (a mix or a mutation has no peer). A judged row measured in interleaved rounds with
 * its baseline (`ratioRounds` of req/s) takes the median of the rounds' ratios instead, not the ratio of
 * the two medians: each round's pair shared its moment of the machine.
 */
export function setRatios(run: RuntimeRun): void {
  const limit = find(run, 'limit.rest-projects');
  const peer = find(run, 'peer.graphql-projects');
  const peerNested = find(run, 'peer.graphql-nested');
  for (const row of run.rows) {
    if (row.status !== 'ok' || row.reqPerSec === null) continue;
    if (limit?.reqPerSec) row.ratioToLimit = round(row.reqPerSec / limit.reqPerSec, 3);
    if (row.group !== 'mix' && row.group !== 'execute') {
      const peerRow = row.id.includes('nested') ? peerNested : peer;
      if (peerRow?.reqPerSec) row.ratioToPeer = round(row.reqPerSec / peerRow.reqPerSec, 3);
    }
    const paired = row.ratioRounds;
    if (paired?.of !== 'reqPerSec') continue;
    if (limit && paired.against === limit.id) row.ratioToLimit = paired.median;
    if ([peer?.id, peerNested?.id].includes(paired.against)) row.ratioToPeer = paired.median;
  }
}

function find(results: RuntimeRun, id: string): ScenarioRow | undefined {
  return results.rows.find((row) => row.id === id && row.status === 'ok');
}

function passOf(results: RuntimeRun, id: string): PassThroughResult | undefined {
  return results.passThrough.find((p) => p.id === id && p.status === 'ok');
}

/**
 * The issue's targets (issue 17), each checked against what one runtime's pass measured, on the rows
 * with the whole-answer cache off. `groups`: the scenario groups the invocation ran.
 */
export function checkTargets(
  results: RuntimeRun,
  groups: ScenarioGroup[],
  minIntervalMs: number,
  maxIntervalMs: number,
): TargetCheck[] {
  // Each check is of this runtime: stamped once at the end, so a check added here cannot forget it.
  const checks: Omit<TargetCheck, 'runtime'>[] = [];
  const ratioTarget = (
    id: string,
    rowId: string,
    description: string,
    against: 'limit' | 'peer',
    minimum: number,
  ) => {
    const row = find(results, rowId);
    const value = row ? (against === 'limit' ? row.ratioToLimit : row.ratioToPeer) : null;
    // Measured in interleaved rounds with its baseline: the verdict is the rounds' median, spread beside it.
    const rounds = row?.ratioRounds?.of === 'reqPerSec' ? row.ratioRounds : undefined;
    checks.push({
      id,
      description,
      target: `>= ${minimum.toFixed(2)}x ${against}`,
      measured: !row
        ? 'not measured'
        : rounds && rounds.rounds > 1
          ? `${ratio(value)} median of ${rounds.ratios.length} interleaved rounds (${ratio(rounds.min)}-${ratio(rounds.max)}${roundsNote(rounds)})`
          : ratio(value),
      // A median over rounds that were starved or left out says more about the machine than the gateway:
      // it cannot PASS (it reads MISS with its reason beside it, so a rerun on a quieter machine settles it).
      pass: value != null ? value >= minimum && (!rounds || reliable(rounds)) : null,
    });
  };
  ratioTarget(
    'graphql-lookup-read',
    'gateway.graphql-projects.cache-off',
    'GraphQL lookup read (projects), production-shaped, whole-answer cache off, vs the plain Apollo Server peer',
    'peer',
    1.5,
  );
  ratioTarget(
    'graphql-nested-read',
    'gateway.graphql-nested.cache-off',
    'GraphQL nested read (projects>environments>pipelines), production-shaped, cache off, vs the peer',
    'peer',
    1.5,
  );
  ratioTarget(
    'rest-lookup-read',
    'gateway.rest-projects.cache-off',
    'REST lookup read (GET /api/v1/projects), production-shaped, cache off, vs the raw node:http limit',
    'limit',
    0.5,
  );
  const mix = find(results, 'gateway.dashboard-mix.cache-off');
  const plain = find(results, 'gateway.dashboard-mix.auth-off');
  const mixRounds =
    mix?.rounds && plain?.rounds
      ? roundRatios(mix.rounds.cpuMsPerRequest, plain.rounds.cpuMsPerRequest)
      : null;
  const mixRatio = mixRounds
    ? mixRounds.median
    : mix?.cpuMsPerRequest && plain?.cpuMsPerRequest
      ? mix.cpuMsPerRequest / plain.cpuMsPerRequest
      : null;
  const lopsided =
    mix?.rounds && plain?.rounds ? lopsidedRounds(mix.rounds.reqPerSec, plain.rounds.reqPerSec) : 0;
  const lopsidedNote =
    lopsided > 0
      ? `; in ${lopsided} round(s) one side served under half the other's req/s: a starved side, not reliable)`
      : ')';
  checks.push({
    id: 'dashboard-mix-auth-cost',
    description: 'Dashboard mix, server CPU per request with auth and rate limits on vs off (cache off both)',
    target: '<= 1.30x',
    measured:
      mixRatio === null
        ? 'not measured'
        : mixRounds && mixRounds.ratios.length > 1
          ? `${ratio(mixRatio)} median of ${mixRounds.ratios.length} interleaved rounds (${ratio(mixRounds.min)}-${ratio(mixRounds.max)}; ${fmt(mix?.cpuMsPerRequest, 3)} vs ${fmt(plain?.cpuMsPerRequest, 3)} ms, medians${lopsidedNote}`
          : `${ratio(mixRatio)} (${fmt(mix?.cpuMsPerRequest, 3)} vs ${fmt(plain?.cpuMsPerRequest, 3)} ms)`,
    pass: mixRatio === null ? null : mixRatio <= 1.3,
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
  for (const stampede of [results.stampede, results.stampedeWarm]) {
    if (!stampede) continue;
    const freshRuns = stampede.process === 'warm' ? [] : (results.stampedeFreshRuns ?? []);
    const several = freshRuns.length > 1;
    const which =
      (stampede.process === 'warm'
        ? 'on a warm gateway after an invalidation'
        : several
          ? `on ${freshRuns.length} fresh gateways (median run; every run listed)`
          : 'on a fresh gateway') +
      (stampede.settings?.responseCache === 'off' ? ', whole-answer cache off' : '');
    const each = (value: (s: StampedeResult) => string) =>
      several ? ` (runs: ${freshRuns.map((s) => (s.status === 'ok' ? value(s) : 'error')).join(', ')})` : '';
    checks.push({
      id: `stampede-${stampede.process ?? 'fresh'}`,
      description: `Cold stampede of ${stampede.requests} identical queries ${which}: upstream listProjects calls`,
      target: 'exactly 1',
      measured:
        (stampede.listProjectsCalls !== undefined ? String(stampede.listProjectsCalls) : 'not measured') +
        each((s) => String(s.listProjectsCalls)),
      pass:
        stampede.status === 'ok' && stampede.listProjectsCalls !== undefined
          ? stampede.listProjectsCalls === 1
          : null,
    });
    const after = stampede.afterUpstreamEnd;
    checks.push({
      id: `stampede-${stampede.process ?? 'fresh'}-after-upstream-p99`,
      description: `Cold stampede of ${stampede.requests} ${which}: every answer after the upstream call's end (p99)`,
      target: '<= 150 ms',
      measured:
        (after ? `${fmt(after.p99, 1)} ms` : 'not measured') +
        each((s) => `${fmt(s.afterUpstreamEnd?.p99, 1)} ms`),
      pass: stampede.status === 'ok' && after ? after.p99 <= 150 : null,
    });
  }
  const execute = find(results, 'gateway.graphql-execute');
  checks.push({
    id: 'execute-cpu',
    description: 'executePipeline: gateway CPU per call',
    target: '<= 1.000 ms',
    measured:
      execute?.cpuMsPerRequest != null
        ? `${fmt(execute.cpuMsPerRequest, 3)} ms` +
          (execute.rounds && execute.rounds.cpuMsPerRequest.length > 1
            ? ` over ${execute.rounds.cpuMsPerRequest.length} windows (each: ${execute.rounds.cpuMsPerRequest.map((cpu) => fmt(cpu, 3)).join(', ')})`
            : '')
        : 'not measured',
    pass: execute?.cpuMsPerRequest != null ? execute.cpuMsPerRequest <= 1 : null,
  });
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
      description: `Terminal status to every subscriber ${at}, fan-out p99 from the leader's observation (event.at) to each frame's receipt, before the generator parses it`,
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
  } else if (groups.includes('subscriptions')) {
    checks.push({
      id: 'subscribers',
      description: 'Subscribers: RSS, delivery p99, one poller',
      target: 'see the issue',
      measured: results.subscriptions[0]?.error ?? 'not measured',
      pass: null,
    });
  }
  return checks.map((check) => ({ ...check, runtime: results.runtime.id }));
}

/** Every round gave a ratio and none was starved. */
const reliable = (rounds: RoundRatios): boolean =>
  rounds.ratios.length === rounds.rounds && rounds.starved === 0;

/** What a ratio's rounds say about their own reliability: rounds without a ratio, starved rounds. */
function roundsNote(rounds: RoundRatios): string {
  const notes: string[] = [];
  if (rounds.ratios.length < rounds.rounds)
    notes.push(
      `${rounds.rounds - rounds.ratios.length} of ${rounds.rounds} round(s) without a ratio: the baseline served nothing`,
    );
  if (rounds.starved > 0)
    notes.push(
      `in ${rounds.starved} of ${rounds.rounds} round(s) a side served under half its best round's req/s: starved, not reliable`,
    );
  return notes.map((note) => `; ${note}`).join('');
}

const verdict = (pass: boolean | null): string => (pass === null ? 'N/A ' : pass ? 'PASS' : 'MISS');

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map((c) => `${verdict(c.pass)}  ${c.description}: ${c.measured} (target ${c.target})`)
    .join('\n');
}

/** The target lines of every runtime, each block under its runtime's name (the production one marked). */
export function formatRuntimeTargets(results: BenchResults): string {
  return results.runs
    .map((run) => `targets on ${runtimeLabel(run.runtime)}:\n${formatTargets(run.targets)}`)
    .join('\n\n');
}

/** The runtimes' verdicts side by side, one line per target (the order of the first runtime that has it). */
export function targetsTable(results: BenchResults): string[] {
  const ids: string[] = [];
  const byRuntime = results.runs.map((run) => new Map(run.targets.map((t) => [t.id, t])));
  for (const run of results.runs) for (const t of run.targets) if (!ids.includes(t.id)) ids.push(t.id);
  const heads = results.runs.map((run) =>
    run.runtime.production ? `**Node ${run.runtime.version} (production)**` : `Node ${run.runtime.version}`,
  );
  const lines = [
    `| ${['target', 'required', ...heads.flatMap((h) => [h, ''])].join(' | ')} |`,
    `|---|---|${results.runs.map(() => '---|---|').join('')}`,
  ];
  for (const id of ids) {
    const checks = byRuntime.map((m) => m.get(id));
    const first = checks.find((c) => c !== undefined) as TargetCheck;
    const cells = checks.map((c) =>
      c ? `${c.measured} | ${c.pass === null ? 'N/A' : c.pass ? 'PASS' : '**MISS**'}` : 'not measured | N/A',
    );
    lines.push(`| ${first.description} | ${first.target} | ${cells.join(' | ')} |`);
  }
  return lines;
}

const START = '<!-- bench:figures:start (written by npm run bench; edit outside the markers) -->';
const END = '<!-- bench:figures:end -->';

/** Rewrites the generated block of bench/RESULTS.md, keeping everything outside it (the findings). */
export function recordResults(path: string, results: BenchResults): void {
  const m = results.machine;
  const servers = results.runtimes.map(runtimeLabel).join(' and ');
  const block = [
    START,
    '',
    `Last recorded run: **${results.mode}** mode, ${m.date} (${results.durationSeconds} s), commit \`${m.commit}\`.`,
    `Machine: ${m.nproc} cores (\`nproc\`), ${m.cpuModel}, ${m.totalMemoryMb} MB RAM, servers on ${servers}, harness on Node ${m.node}, ` +
      `load average at start ${m.loadAverage1m}. Pinning: ${results.cores.note}.`,
    `Budget: ${results.budget.connections} connections, warm-up until throughput holds steady (at most ${results.budget.warmupSeconds} s) + ` +
      `${results.budget.durationSeconds} s per throughput run; the judged ratio rows in ${results.budget.ratioRounds ?? 1} interleaved round(s) with their baseline, the dashboard mixes in ${results.budget.mixRounds} ` +
      `(ratios: the median of the rounds' ratios), executePipeline in ${results.budget.executeWindows ?? 1} window(s) back to back (CPU per call over all of them, each window's listed); ` +
      `${results.budget.pairedSamples} interleaved single requests per pass-through side.`,
    'Every runtime ran every server (baselines, emulator and gateways) in its own pass; its ratios are to its own baselines.',
    ...results.runs.flatMap((run) => {
      const details = formatDetails(run);
      return [
        '',
        `#### ${runtimeLabel(run.runtime)}, ${run.durationSeconds} s`,
        '',
        '```',
        formatTable(run),
        '```',
        ...(details ? ['', '```', details, '```'] : []),
      ];
    }),
    '',
    ...targetsTable(results),
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
