import { SetMetadata } from '@nestjs/common';

export const PROJECT_ID_ARGS = 'maia-gateway:project-id-args';

/** Argument names the guard treats as project ids unless an operation says otherwise. */
export const DEFAULT_PROJECT_ID_ARGS: readonly string[] = ['projectId'];

/**
 * Names the arguments (GraphQL args, REST params, query or body members, one level deep included) that
 * carry a project id, when it is not `projectId`: e.g. `@ProjectIdArgs('id')` on `project(id: ID)`.
 * The guard checks every such value against the caller's projects before the handler runs.
 */
export const ProjectIdArgs = (...names: string[]) => SetMetadata(PROJECT_ID_ARGS, names);
