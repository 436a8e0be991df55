import { Args, Context, Extensions, Resolver, Subscription } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import { ErrorCode, GatewayError } from '../common/errors';
import { toPipelineExecution } from '../executions/execution.mapper';
import { SHARED_FAN_OUT } from '../graphql/fan-out-subscribe';
import { PipelineExecutionEventsArgs, PipelineExecutionUpdatedArgs } from './dto/watch.args';
import { ExecutionWatchService } from './execution-watch.service';
import { PipelineExecutionEvent, PipelineExecutionEventKind } from './models/pipeline-execution-event.model';
import { identityOfGraphqlContext } from './watch-identity';
import { type ExecutionWatchEvent, type WatchStream } from './watch.types';

/** What the subscription iterator yields: an event, or the error that ends the stream. */
type Item = { event: ExecutionWatchEvent } | { error: unknown };

/**
 * One item per event for every subscriber (the watch shares its event objects): subscribers of one
 * document then share one execution of it per event (`FanOutSubscriber`).
 */
const items = new WeakMap<ExecutionWatchEvent, Item>();

function itemOf(event: ExecutionWatchEvent): Item {
  let item = items.get(event);
  if (!item) {
    item = { event };
    items.set(event, item);
  }
  return item;
}

/**
 * Adapts a watch stream to graphql-js: errors become one result with `errors` (extensions.code from the
 * shared enum) followed by completion, instead of an exception that would tear the whole socket down.
 * `return()` (client `complete`, socket closed) releases the stream at once.
 */
function toSubscriptionIterator(stream: WatchStream): AsyncIterableIterator<Item> {
  let failed = false;
  let released: () => void = () => undefined;
  const whenReleased = new Promise<IteratorResult<Item>>((resolve) => {
    released = () => resolve({ value: undefined, done: true });
  });
  const iterator: AsyncIterableIterator<Item> = {
    async next() {
      if (failed) return { value: undefined, done: true };
      try {
        const result = await stream.next();
        return result.done ? { value: undefined, done: true } : { value: itemOf(result.value), done: false };
      } catch (error) {
        // Shutting down: say nothing; the socket closes with 1001 and the client reconnects elsewhere.
        if (GatewayError.is(error, ErrorCode.SHUTTING_DOWN)) return whenReleased;
        failed = true;
        return { value: { error }, done: false };
      }
    },
    async return() {
      released();
      await stream.return();
      return { value: undefined, done: true };
    },
    async throw() {
      released();
      await stream.return();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

function resolveItem(item: Item): PipelineExecutionEvent {
  if ('error' in item) {
    throw item.error instanceof GatewayError
      ? item.error
      : new GatewayError(ErrorCode.INTERNAL, 'Live status failed');
  }
  const { event } = item;
  return {
    cursor: event.cursor,
    at: event.at,
    kind: event.kind as PipelineExecutionEventKind,
    execution: toPipelineExecution(event.execution),
  };
}

/**
 * Live status over graphql-ws. Thin: validation by the args classes, everything else in the service.
 * `resolveItem` reads the event alone, so both fields declare SHARED_FAN_OUT (see FanOutSubscriber).
 */
@Resolver(() => PipelineExecutionEvent)
export class ExecutionWatchResolver {
  constructor(private readonly watch: ExecutionWatchService) {}

  @Subscription(() => PipelineExecutionEvent, {
    description:
      'One execution, live: its current state first (or, with `after`, exactly the events after that cursor), then each change of status, message or finishedAt; completes after the terminal state. An unknown execution ends with NOT_FOUND.',
    resolve: resolveItem,
  })
  @Extensions({ [SHARED_FAN_OUT]: true })
  @RequireScope('read')
  pipelineExecutionUpdated(
    @Args() { projectId, executionId, after }: PipelineExecutionUpdatedArgs,
    @Context() context: unknown,
  ): AsyncIterableIterator<Item> {
    const identity = identityOfGraphqlContext(context);
    return toSubscriptionIterator(this.watch.watch(projectId, executionId, { ...identity, after }));
  }

  @Subscription(() => PipelineExecutionEvent, {
    description:
      "What happens to a project's executions from the moment of subscribing (for dashboards): STARTED when a run begins, CHANGED, FINISHED; never an event of something that happened before. A run that began and ended between two polls still yields STARTED (its state as it began), then FINISHED. From one shared list poll per project across the gateway's replicas, reading as many of Maia's pages as the runs since the last poll need. Never completes by itself.",
    resolve: resolveItem,
  })
  @Extensions({ [SHARED_FAN_OUT]: true })
  @RequireScope('read')
  pipelineExecutionEvents(
    @Args() { projectId, filter, after }: PipelineExecutionEventsArgs,
    @Context() context: unknown,
  ): AsyncIterableIterator<Item> {
    if (filter?.projectId && filter.projectId.toLowerCase() !== projectId.toLowerCase()) {
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'filter.projectId must be the subscribed project', {
        field: 'filter.projectId',
      });
    }
    const { projectId: _ignored, ...feedFilter } = filter ?? {};
    return toSubscriptionIterator(
      this.watch.watchProject(projectId, feedFilter, { ...identityOfGraphqlContext(context), after }),
    );
  }
}
