import 'reflect-metadata';
import { EnvironmentsController } from '../../../src/environments/environments.controller';
import { ProjectEnvironmentsResolver } from '../../../src/environments/environments.resolver';
import {
  ExecutionsController,
  ProjectExecutionsController,
} from '../../../src/executions/executions.controller';
import {
  CancelPipelineExecutionPayloadResolver,
  ExecutePipelinePayloadResolver,
  ExecutionsResolver,
  ProjectExecutionsResolver,
} from '../../../src/executions/executions.resolver';
import { ExecutionEventsController } from '../../../src/watch/execution-events.controller';
import { ExecutionWatchResolver } from '../../../src/watch/execution-watch.resolver';
import { PipelinesController } from '../../../src/pipelines/pipelines.controller';
import {
  EnvironmentPipelinesResolver,
  ProjectPipelinesResolver,
} from '../../../src/pipelines/pipelines.resolver';
import { CacheAdminController } from '../../../src/projects/cache-admin.controller';
import { CacheAdminResolver } from '../../../src/projects/cache-admin.resolver';
import { ProjectsController } from '../../../src/projects/projects.controller';
import { ProjectsResolver } from '../../../src/projects/projects.resolver';

/** Every GraphQL resolver and REST controller of the API (probes and metrics aside). */
const HANDLER_CLASSES: (abstract new (...args: never[]) => object)[] = [
  ProjectsResolver,
  CacheAdminResolver,
  ProjectEnvironmentsResolver,
  ProjectPipelinesResolver,
  EnvironmentPipelinesResolver,
  ExecutionsResolver,
  ExecutePipelinePayloadResolver,
  CancelPipelineExecutionPayloadResolver,
  ProjectExecutionsResolver,
  ExecutionWatchResolver,
  ProjectsController,
  CacheAdminController,
  EnvironmentsController,
  PipelinesController,
  ProjectExecutionsController,
  ExecutionsController,
  ExecutionEventsController,
];

/**
 * Spies on every handler method (resolver fields, mutations, subscriptions, controller routes) while still
 * calling through. Install before the gateway is built: Nest captures the method references then.
 */
export function spyOnHandlers(): { calls(): number; restore(): void } {
  const spies: jest.SpyInstance[] = [];
  for (const type of HANDLER_CLASSES) {
    const prototype = type.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      if (name === 'constructor' || typeof prototype[name] !== 'function') continue;
      const original = prototype[name] as object;
      const spy = jest.spyOn(prototype as Record<string, (...args: unknown[]) => unknown>, name);
      // Nest reads routes, GraphQL fields and scopes from metadata on the method itself: carry it over.
      for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
        Reflect.defineMetadata(key, Reflect.getMetadata(key, original), prototype[name]);
      }
      spies.push(spy);
    }
  }
  return {
    calls: () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}
