import { ApiError, gql, newIdempotencyKey, subscribe } from './api';
import { durationOf, formatDuration, formatTime, h, replace } from './dom';
import { type Page, runPath, showError, statusBadge } from './page';
import { may, projectLabel, type Session } from './session';

interface Execution {
  id: string;
  projectId: string;
  pipelineName: string | null;
  environmentName: string | null;
  status: string;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  isTerminal: boolean;
  trigger: string | null;
  user: string | null;
}

interface Step {
  id: string;
  name: string;
  status: string;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

interface Launch {
  pipelineName: string;
  environmentName: string;
  versionName: string | null;
  agentId: string | null;
  executionTag: string | null;
  scalarVariables: { name: string; value: string }[];
  gridVariables: { name: string; rows: string[][] }[];
  launchedAt: string;
}

const EXECUTION_FIELDS =
  'id projectId pipelineName environmentName status message startedAt finishedAt isTerminal trigger user';
const STEPS = 'steps(size: 100) { total results { id name status message startedAt finishedAt } }';
const LAUNCH =
  'launch { pipelineName environmentName versionName agentId executionTag scalarVariables { name value } gridVariables { name rows } launchedAt }';

const UPDATES = `subscription ConsoleRun($projectId: ID!, $executionId: ID!) {
  pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) { kind execution { ${EXECUTION_FIELDS} } }
}`;

/** One run: live status, message and steps, its launch parameters, cancel and re-run. */
export function runPage(
  session: Session,
  projectId: string,
  executionId: string,
  navigate: (path: string) => void,
): Page {
  const query = `query ConsoleRun($projectId: ID!, $executionId: ID!) {
    pipelineExecution(projectId: $projectId, executionId: $executionId) {
      ${EXECUTION_FIELDS} ${STEPS} ${session.features.launch ? LAUNCH : ''}
    }
  }`;
  const stepsQuery = `query ConsoleRunSteps($projectId: ID!, $executionId: ID!) {
    pipelineExecution(projectId: $projectId, executionId: $executionId) { id ${STEPS} }
  }`;
  const variables = { projectId, executionId };
  const stops: (() => void)[] = [];
  const heading = h('h1', { id: 'run-heading' }, 'Run');
  const summary = h('dl', { class: 'summary' });
  const statusLine = h('p', { class: 'run-status', role: 'status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Run actions' });
  const errors = h('div', { class: 'errors', role: 'alert' });
  const steps = h('section', { 'aria-labelledby': 'steps-heading' });
  const launch = h('section', { 'aria-labelledby': 'launch-heading' });
  let current: Execution | null = null;
  const duration = h('span');
  let actionsFor: boolean | null = null;

  const fail = (error: ApiError) => replace(errors, showError(error));

  const renderExecution = (run: Execution) => {
    current = run;
    heading.textContent = run.pipelineName ?? run.id;
    replace(statusLine, 'Status: ', statusBadge(run.status), run.isTerminal ? '' : ' (live)');
    const item = (term: string, value: string | Node) => [h('dt', null, term), h('dd', null, value)];
    replace(
      summary,
      ...item('Project', projectLabel(session, run.projectId)),
      ...item('Environment', run.environmentName ?? '—'),
      ...item('Message', h('span', { class: 'message' }, run.message ?? '—')),
      ...item('Started', formatTime(run.startedAt)),
      ...item('Finished', formatTime(run.finishedAt)),
      ...item('Duration', duration),
      ...item('Trigger', run.trigger ?? '—'),
      ...item('Execution id', h('code', null, run.id)),
    );
    duration.textContent = formatDuration(durationOf(run.startedAt, run.finishedAt));
    // Rebuilt only when they change, so a focused button keeps its focus.
    if (actionsFor !== run.isTerminal) renderActions(run);
    actionsFor = run.isTerminal;
  };

  const renderSteps = (page: { total: number; results: Step[] }) => {
    replace(
      steps,
      h('h2', { id: 'steps-heading' }, `Steps (${page.total})`),
      page.results.length === 0
        ? h('p', null, 'No steps yet.')
        : h(
            'table',
            { class: 'steps' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ...['Step', 'Status', 'Message', 'Duration'].map((n) => h('th', { scope: 'col' }, n)),
              ),
            ),
            h(
              'tbody',
              null,
              ...page.results.map((step) =>
                h(
                  'tr',
                  null,
                  h('td', null, step.name),
                  h('td', null, statusBadge(step.status)),
                  h('td', null, step.message ?? ''),
                  h('td', null, formatDuration(durationOf(step.startedAt, step.finishedAt))),
                ),
              ),
            ),
          ),
    );
  };

  const renderLaunch = (value: Launch | null | undefined) => {
    if (!session.features.launch) return;
    if (!value) {
      replace(
        launch,
        h('h2', { id: 'launch-heading' }, 'Launch parameters'),
        h('p', null, 'Not known to this gateway.'),
      );
      return;
    }
    const item = (term: string, text: string) => [h('dt', null, term), h('dd', null, text)];
    replace(
      launch,
      h('h2', { id: 'launch-heading' }, 'Launch parameters'),
      h(
        'dl',
        { class: 'launch' },
        ...item('Version', value.versionName ?? 'latest'),
        ...item('Runner', value.agentId ?? 'environment default'),
        ...item('Tag', value.executionTag ?? '—'),
        ...item('Launched', formatTime(value.launchedAt)),
        ...value.scalarVariables.flatMap((v) => item(`Variable ${v.name}`, v.value)),
        ...value.gridVariables.flatMap((v) => item(`Grid ${v.name}`, JSON.stringify(v.rows))),
      ),
    );
  };

  const act = async (button: HTMLButtonElement, work: () => Promise<void>) => {
    replace(errors);
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      fail(error instanceof ApiError ? error : new ApiError('INTERNAL', String(error)));
    } finally {
      button.disabled = false;
    }
  };

  const cancel = (force: boolean) => {
    const button = h(
      'button',
      { type: 'button', class: force ? 'danger' : '' },
      force ? 'Force cancel' : 'Cancel run',
    );
    button.addEventListener(
      'click',
      () =>
        void act(button, async () => {
          const answer = await gql<{ cancelPipelineExecution: { execution: Execution | null } }>(
            `mutation ConsoleCancel($input: CancelPipelineExecutionInput!) {
            cancelPipelineExecution(input: $input) { execution { ${EXECUTION_FIELDS} } }
          }`,
            { input: { projectId, executionId, force } },
          );
          if (answer.cancelPipelineExecution.execution)
            renderExecution(answer.cancelPipelineExecution.execution);
        }),
    );
    return button;
  };

  const rerun = () => {
    const button = h('button', { type: 'button' }, 'Re-run');
    button.addEventListener(
      'click',
      () =>
        void act(button, async () => {
          const answer = await gql<{ rerunPipelineExecution: { pipelineExecutionId: string } }>(
            `mutation ConsoleRerun($input: RerunPipelineExecutionInput!) {
            rerunPipelineExecution(input: $input) { pipelineExecutionId }
          }`,
            { input: { projectId, executionId, idempotencyKey: newIdempotencyKey() } },
          );
          navigate(runPath(projectId, answer.rerunPipelineExecution.pipelineExecutionId));
        }),
    );
    return button;
  };

  // Controls the caller's scopes do not allow are left out, not greyed out.
  const renderActions = (run: Execution) => {
    replace(
      actions,
      !run.isTerminal && may(session, 'cancel') && cancel(false),
      !run.isTerminal && may(session, 'cancel') && cancel(true),
      session.features.rerun && may(session, 'execute') && rerun(),
    );
  };

  const refreshSteps = () =>
    gql<{ pipelineExecution: { steps: { total: number; results: Step[] } } }>(stepsQuery, variables)
      .then((answer) => renderSteps(answer.pipelineExecution.steps))
      .catch(fail);

  gql<{
    pipelineExecution: Execution & { steps: { total: number; results: Step[] }; launch?: Launch | null };
  }>(query, variables)
    .then(({ pipelineExecution }) => {
      renderExecution(pipelineExecution);
      renderSteps(pipelineExecution.steps);
      renderLaunch(pipelineExecution.launch);
      if (pipelineExecution.isTerminal) return;
      // Each change the gateway reports brings the steps up to date too: no timer, no polling.
      stops.push(
        subscribe<{ pipelineExecutionUpdated: { execution: Execution } }>(
          UPDATES,
          variables,
          (data) => {
            renderExecution(data.pipelineExecutionUpdated.execution);
            void refreshSteps();
          },
          fail,
        ),
      );
    })
    .catch(fail);

  const ticker = setInterval(() => {
    if (current && !current.isTerminal)
      duration.textContent = formatDuration(durationOf(current.startedAt, null));
  }, 1000);
  stops.push(() => clearInterval(ticker));

  return {
    title: 'Run',
    element: h(
      'article',
      { 'aria-labelledby': 'run-heading' },
      h('p', null, h('a', { href: '/console' }, '← All runs')),
      heading,
      statusLine,
      actions,
      errors,
      summary,
      launch,
      steps,
    ),
    stop: () => stops.forEach((stop) => stop()),
  };
}
