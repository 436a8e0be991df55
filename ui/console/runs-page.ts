import { ApiError, gql, subscribe } from './api';
import { durationOf, field, formatDuration, formatTime, h, replace } from './dom';
import { type Page, runPath, showError, statusBadge } from './page';
import { projectLabel, type Session } from './session';

export interface RunRow {
  id: string;
  projectId: string;
  pipelineName: string | null;
  environmentName: string | null;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * One event stream per project, on one graphql-ws connection: stay well under the gateway's
 * WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION (50 by default), leaving room for a run page's stream.
 */
const LIVE_PROJECTS_LIMIT = 40;

const ROW_FIELDS = 'id projectId pipelineName environmentName status startedAt finishedAt';

const LIST_QUERY = `query ConsoleRuns($filter: PipelineExecutionFilter) {
  pipelineExecutions(filter: $filter, first: 50) { nodes { ${ROW_FIELDS} } }
}`;

const EVENTS_SUBSCRIPTION = `subscription ConsoleRunEvents($projectId: ID!, $filter: PipelineExecutionFilter) {
  pipelineExecutionEvents(projectId: $projectId, filter: $filter) { kind execution { ${ROW_FIELDS} } }
}`;

/** The filters, as the query string keeps them (so a filtered list is a link one can share or reload). */
interface Filters {
  project: string;
  environment: string;
  status: string;
}

function filtersOf(search: string): Filters {
  const params = new URLSearchParams(search);
  return {
    project: params.get('project') ?? '',
    environment: params.get('environment') ?? '',
    status: params.get('status') ?? '',
  };
}

function searchOf(filters: Filters): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters) as [string, string][])
    if (value) params.set(name, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

function matches(run: RunRow, filters: Filters): boolean {
  return (
    (!filters.project || run.projectId.toLowerCase() === filters.project.toLowerCase()) &&
    (!filters.environment || run.environmentName === filters.environment) &&
    (!filters.status || run.status === filters.status)
  );
}

/** Recent runs of every project the caller may see, kept live by one event stream per project. */
export function runsPage(session: Session, navigate: (path: string, focusId?: string) => void): Page {
  const filters = filtersOf(location.search);
  const runs = new Map<string, RunRow>();
  const stops: (() => void)[] = [];
  const errors = h('div', { class: 'errors', role: 'alert' });
  const live = h('p', { class: 'live', role: 'status' }, 'Loading…');
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'runs' },
    h('caption', null, 'Recent runs (last 7 days), newest first; new runs appear as they start'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Pipeline', 'Project', 'Environment', 'Status', 'Started', 'Duration'].map((name) =>
          h('th', { scope: 'col' }, name),
        ),
      ),
    ),
    body,
  );

  const select = (name: keyof Filters, label: string, options: [string, string][]) => {
    const control = h(
      'select',
      { id: `filter-${name}`, name },
      h('option', { value: '' }, 'All'),
      ...options.map(([value, text]) => h('option', { value, selected: value === filters[name] }, text)),
    );
    control.value = filters[name];
    control.addEventListener('change', () => {
      const next = { ...filters, [name]: control.value };
      if (name === 'project') next.environment = '';
      navigate(`${location.pathname}${searchOf(next)}`, control.id);
    });
    return field(label, control);
  };

  const environments = [
    ...new Set(
      session.projects
        .filter((p) => !filters.project || p.id.toLowerCase() === filters.project.toLowerCase())
        .flatMap((p) => p.environments),
    ),
  ].sort();

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter runs', onsubmit: (event: Event) => event.preventDefault() },
    select(
      'project',
      'Project',
      session.projects.map((p) => [p.id, projectLabel(session, p.id)]),
    ),
    select(
      'environment',
      'Environment',
      environments.map((e) => [e, e]),
    ),
    select(
      'status',
      'Status',
      session.statuses.map((s) => [s, s]),
    ),
  );

  const render = () => {
    const rows = [...runs.values()]
      .filter((run) => matches(run, filters))
      .sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
    replace(
      body,
      ...rows.map((run) =>
        h(
          'tr',
          { 'data-execution-id': run.id },
          h('td', null, h('a', { href: runPath(run.projectId, run.id) }, run.pipelineName ?? run.id)),
          h('td', null, projectLabel(session, run.projectId)),
          h('td', null, run.environmentName ?? '—'),
          h('td', null, statusBadge(run.status)),
          h('td', null, h('time', { datetime: run.startedAt ?? '' }, formatTime(run.startedAt))),
          h('td', { class: 'duration' }, formatDuration(durationOf(run.startedAt, run.finishedAt))),
        ),
      ),
    );
    if (rows.length === 0) body.append(h('tr', null, h('td', { colspan: 6 }, 'No runs match.')));
  };

  const upsert = (run: RunRow) => {
    if (matches(run, filters)) runs.set(run.id, run);
    else runs.delete(run.id);
    render();
  };

  const filter = {
    ...(filters.environment ? { environmentName: filters.environment } : {}),
    ...(filters.status ? { status: [filters.status] } : {}),
  };
  const fail = (error: ApiError) => errors.append(showError(error));

  // Live first, then the list: a run that starts while the list loads is not missed.
  const projects = session.projects.filter(
    (p) => !filters.project || p.id.toLowerCase() === filters.project.toLowerCase(),
  );
  const watched = projects.slice(0, LIVE_PROJECTS_LIMIT);
  for (const project of watched) {
    stops.push(
      subscribe<{ pipelineExecutionEvents: { execution: RunRow } }>(
        EVENTS_SUBSCRIPTION,
        { projectId: project.id, filter },
        (data) => upsert(data.pipelineExecutionEvents.execution),
        fail,
      ),
    );
  }
  gql<{ pipelineExecutions: { nodes: RunRow[] } }>(LIST_QUERY, {
    filter: { ...filter, ...(filters.project ? { projectId: filters.project } : {}) },
  })
    .then((answer) => {
      for (const run of answer.pipelineExecutions.nodes) if (!runs.has(run.id)) runs.set(run.id, run);
      live.textContent =
        watched.length < projects.length
          ? `Live: the first ${watched.length} of ${projects.length} projects watched; filter by project to watch another`
          : `Live: ${watched.length} project${watched.length === 1 ? '' : 's'} watched`;
      render();
    })
    .catch((error: ApiError) => {
      live.textContent = '';
      fail(error);
    });

  // Durations of running rows tick on screen; nothing is fetched for it.
  const ticker = setInterval(() => {
    for (const row of body.querySelectorAll('tr[data-execution-id]')) {
      const run = runs.get(row.getAttribute('data-execution-id') ?? '');
      const cell = row.querySelector('.duration');
      if (run && cell && !run.finishedAt) cell.textContent = formatDuration(durationOf(run.startedAt, null));
    }
  }, 1000);
  stops.push(() => clearInterval(ticker));

  return {
    title: 'Runs',
    element: h(
      'section',
      { 'aria-labelledby': 'runs-heading' },
      h('h1', { id: 'runs-heading' }, 'Runs'),
      form,
      live,
      errors,
      table,
    ),
    stop: () => stops.forEach((stop) => stop()),
  };
}
