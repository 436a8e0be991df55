/**
 * The projects the gateway's Maia credential can see (the cached directory). Provided by the projects
 * module under this token; the guard uses it so a project that does not exist answers exactly like one
 * the caller may not see, on every route, before anything goes upstream.
 */
export const PROJECT_DIRECTORY = Symbol('PROJECT_DIRECTORY');

export interface ProjectDirectory {
  directory(): Promise<ReadonlyArray<{ id: string }>>;
}
