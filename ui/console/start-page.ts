import { ApiError, gql, newIdempotencyKey } from './api';
import { field, h, replace } from './dom';
import { type Page, runPath, showError } from './page';
import { projectLabel, type Session } from './session';

const PIPELINES = `query ConsolePipelines($projectId: ID!, $environmentName: String!) {
  project(id: $projectId) { publishedPipelines(environmentName: $environmentName, size: 100) { results { name } } }
}`;

/** With the pickers (Environment.runners, PublishedPipeline.versions): the choices, not free text. */
const PIPELINES_WITH_PICKERS = `query ConsolePipelinePickers($projectId: ID!, $environmentName: String!) {
  project(id: $projectId) {
    environment(name: $environmentName) {
      runners(size: 100) { results { id name restricted } }
      publishedPipelines(size: 100) { results { name versions(size: 100) { results { versionName enabled } } } }
    }
  }
}`;

interface PickerAnswer {
  project: {
    environment: {
      runners: { results: { id: string; name: string | null; restricted: boolean | null }[] };
      publishedPipelines: {
        results: {
          name: string;
          versions: { results: { versionName: string; enabled: boolean | null }[] };
        }[];
      };
    };
  };
}

const EXECUTE = `mutation ConsoleExecute($input: ExecutePipelineInput!) {
  executePipeline(input: $input) { pipelineExecutionId replayed }
}`;

/** `name=value` per line; a line without `=` is refused with the line's number. */
export function parseVariables(text: string): { name: string; value: string }[] {
  return text
    .split('\n')
    .map((line, index) => ({ line: line.trim(), index }))
    .filter(({ line }) => line !== '')
    .map(({ line, index }) => {
      const at = line.indexOf('=');
      if (at <= 0) throw new ApiError('BAD_USER_INPUT', `Variables, line ${index + 1}: write name=value`);
      return { name: line.slice(0, at).trim(), value: line.slice(at + 1).trim() };
    });
}

/** Starts a published pipeline with version, runner, variables and tag; errors show their code. */
export function startPage(session: Session, navigate: (path: string) => void): Page {
  const errors = h('div', { class: 'errors', role: 'alert' });
  const project = h(
    'select',
    { id: 'start-project', required: true },
    ...session.projects.map((p) => h('option', { value: p.id }, projectLabel(session, p.id))),
  );
  const environment = h('select', { id: 'start-environment', required: true });
  const pipeline = h('select', { id: 'start-pipeline', required: true });
  const pickers = session.features.pickers;
  const version = pickers
    ? h('select', { id: 'start-version' })
    : h('input', { id: 'start-version', type: 'text', autocomplete: 'off' });
  const runner = pickers
    ? h('select', { id: 'start-runner' })
    : h('input', { id: 'start-runner', type: 'text', autocomplete: 'off' });
  let versionsOf = new Map<string, { versionName: string; enabled: boolean | null }[]>();
  const fillVersions = () => {
    if (!pickers) return;
    replace(
      version,
      h('option', { value: '' }, 'Latest published'),
      ...(versionsOf.get(pipeline.value) ?? []).map((v) =>
        h('option', { value: v.versionName, disabled: v.enabled === false }, v.versionName),
      ),
    );
  };
  pipeline.addEventListener('change', fillVersions);
  const variables = h('textarea', { id: 'start-variables', rows: 3, spellcheck: 'false' });
  const tag = h('input', { id: 'start-tag', type: 'text', autocomplete: 'off' });
  const submit = h('button', { type: 'submit' }, 'Start run');

  // Only the answer for the latest choice fills the pickers: an earlier one arriving late would reset them.
  let latestLoad = 0;
  const loadPipelines = async () => {
    const load = ++latestLoad;
    replace(pipeline);
    if (!environment.value) return;
    try {
      const variables = { projectId: project.value, environmentName: environment.value };
      if (pickers) {
        const answer = await gql<PickerAnswer>(PIPELINES_WITH_PICKERS, variables);
        if (load !== latestLoad) return;
        const { runners, publishedPipelines } = answer.project.environment;
        versionsOf = new Map(publishedPipelines.results.map((p) => [p.name, p.versions.results]));
        replace(pipeline, ...publishedPipelines.results.map((p) => h('option', { value: p.name }, p.name)));
        replace(
          runner,
          h('option', { value: '' }, "Environment's default"),
          ...runners.results.map((r) =>
            h('option', { value: r.id }, `${r.name ?? r.id}${r.restricted ? ' (restricted)' : ''}`),
          ),
        );
        fillVersions();
        return;
      }
      const answer = await gql<{ project: { publishedPipelines: { results: { name: string }[] } } }>(
        PIPELINES,
        variables,
      );
      if (load !== latestLoad) return;
      replace(
        pipeline,
        ...answer.project.publishedPipelines.results.map((p) => h('option', { value: p.name }, p.name)),
      );
    } catch (error) {
      replace(errors, showError(error as ApiError));
    }
  };
  const loadEnvironments = () => {
    const chosen = session.projects.find((p) => p.id === project.value);
    replace(environment, ...(chosen?.environments ?? []).map((name) => h('option', { value: name }, name)));
    void loadPipelines();
  };
  project.addEventListener('change', loadEnvironments);
  environment.addEventListener('change', () => void loadPipelines());
  loadEnvironments();

  const form = h(
    'form',
    { class: 'start', 'aria-labelledby': 'start-heading' },
    field('Project', project),
    field('Environment', environment),
    field('Pipeline', pipeline),
    field('Version', version, pickers ? undefined : 'A published version; empty: the latest'),
    field('Runner', runner, pickers ? undefined : "A runner id; empty: the environment's default runner"),
    field('Variables', variables, 'One name=value per line'),
    field('Tag', tag, 'While a run with this tag runs here, another is refused'),
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    submit.disabled = true;
    void (async () => {
      try {
        const scalarVariables = parseVariables(variables.value);
        const input = {
          projectId: project.value,
          environmentName: environment.value,
          pipelineName: pipeline.value,
          ...(version.value.trim() ? { versionName: version.value.trim() } : {}),
          ...(runner.value.trim() ? { agentId: runner.value.trim() } : {}),
          ...(tag.value.trim() ? { executionTag: tag.value.trim() } : {}),
          ...(scalarVariables.length ? { scalarVariables } : {}),
          idempotencyKey: newIdempotencyKey(),
        };
        const answer = await gql<{ executePipeline: { pipelineExecutionId: string } }>(EXECUTE, { input });
        navigate(runPath(project.value, answer.executePipeline.pipelineExecutionId));
      } catch (error) {
        replace(
          errors,
          showError(error instanceof ApiError ? error : new ApiError('INTERNAL', String(error))),
        );
      } finally {
        submit.disabled = false;
      }
    })();
  });

  return {
    title: 'Start a run',
    element: h('section', null, h('h1', { id: 'start-heading' }, 'Start a run'), errors, form),
  };
}
