import { ApiError, gql } from './api';

/** Who the caller is and what this gateway's schema offers, read once per sign-in. */
export interface Session {
  viewer: { name: string; kind: string; scopes: string[]; allProjects: boolean; projectIds: string[] };
  projects: ProjectSummary[];
  statuses: string[];
  /** Fields that arrive with later gateway versions: their controls appear only when the schema has them. */
  features: { rerun: boolean; launch: boolean; pickers: boolean };
}

export interface ProjectSummary {
  id: string;
  name: string;
  environments: string[];
}

const SESSION_QUERY = `query ConsoleSession {
  viewer { name kind scopes allProjects projectIds }
  projects(size: 100) { results { id name environments(size: 100) { results { name } } } }
}`;

/** Introspection, when the gateway allows it (GRAPHQL_INTROSPECTION); otherwise the probes below answer. */
const SCHEMA_QUERY = `query ConsoleSchema {
  statuses: __type(name: "PipelineExecutionStatus") { enumValues { name } }
  mutations: __type(name: "Mutation") { fields { name } }
  execution: __type(name: "PipelineExecution") { fields { name } }
  environment: __type(name: "Environment") { fields { name } }
  pipeline: __type(name: "PublishedPipeline") { fields { name } }
}`;

/** The statuses of the schema this console was written against, for a gateway without introspection. */
const KNOWN_STATUSES = [
  'CANCELLED',
  'CANCELLING',
  'FAILED',
  'FORBIDDEN',
  'RUNNING',
  'SKIPPED',
  'SUCCESS',
  'UNKNOWN',
];

/**
 * Without introspection: a field the schema lacks fails validation (GRAPHQL_VALIDATION_FAILED) before
 * anything runs; one it has is refused by the guard for the invalid project id (BAD_USER_INPUT), or for
 * the scope, again before any call to Maia.
 */
async function hasField(document: string): Promise<boolean> {
  try {
    await gql(document);
    return true;
  } catch (error) {
    return !(error instanceof ApiError && error.code === 'GRAPHQL_VALIDATION_FAILED');
  }
}

interface SessionAnswer {
  viewer: Session['viewer'];
  projects: { results: { id: string; name: string; environments: { results: { name: string }[] } }[] };
}

interface SchemaAnswer {
  statuses: { enumValues: { name: string }[] } | null;
  mutations: { fields: { name: string }[] } | null;
  execution: { fields: { name: string }[] } | null;
  environment: { fields: { name: string }[] } | null;
  pipeline: { fields: { name: string }[] } | null;
}

async function loadSchema(): Promise<Pick<Session, 'statuses' | 'features'>> {
  try {
    const answer = await gql<SchemaAnswer>(SCHEMA_QUERY);
    const names = (type: { fields: { name: string }[] } | null) => new Set(type?.fields.map((f) => f.name));
    return {
      statuses: answer.statuses?.enumValues.map((v) => v.name) ?? KNOWN_STATUSES,
      features: {
        rerun: names(answer.mutations).has('rerunPipelineExecution'),
        launch: names(answer.execution).has('launch'),
        pickers: names(answer.environment).has('runners') && names(answer.pipeline).has('versions'),
      },
    };
  } catch {
    const [rerun, launch, pickers] = await Promise.all([
      hasField(
        'mutation { rerunPipelineExecution(input: { projectId: "-", executionId: "-" }) { pipelineExecutionId } }',
      ),
      hasField('{ pipelineExecution(projectId: "-", executionId: "-") { launch { launchedAt } } }'),
      hasField(
        '{ project(id: "-") { environment(name: "-") { runners { total } publishedPipelines { results { versions { total } } } } } }',
      ),
    ]);
    return { statuses: KNOWN_STATUSES, features: { rerun, launch, pickers } };
  }
}

export async function loadSession(): Promise<Session> {
  const answer = await gql<SessionAnswer>(SESSION_QUERY);
  const schema = await loadSchema();
  return {
    viewer: answer.viewer,
    projects: answer.projects.results.map((p) => ({
      id: p.id,
      name: p.name,
      environments: p.environments.results.map((e) => e.name),
    })),
    ...schema,
  };
}

export function may(session: Session, scope: 'read' | 'execute' | 'cancel'): boolean {
  return session.viewer.scopes.includes(scope) || session.viewer.scopes.includes('admin');
}

/** A project's name, with the start of its id when two share it. */
export function projectLabel(session: Session, projectId: string): string {
  const project = session.projects.find((p) => p.id.toLowerCase() === projectId.toLowerCase());
  if (!project) return projectId;
  const twins = session.projects.filter((p) => p.name === project.name).length > 1;
  return twins ? `${project.name} (${project.id.slice(0, 8)})` : project.name;
}
