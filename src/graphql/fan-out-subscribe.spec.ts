import {
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type ExecutionResult,
} from 'graphql';
import { NestFactory } from '@nestjs/core';
import {
  Field,
  GraphQLSchemaBuilderModule,
  GraphQLSchemaFactory,
  ObjectType,
  Query,
  Resolver,
} from '@nestjs/graphql';
import { FanOutSubscriber, SHARED_FAN_OUT } from './fan-out-subscribe';
import { nestPropertyReaderSource } from './nest-property-reader';

/**
 * Subscribers of one event with the same document and variables share one execution; anything that could
 * differ between them (variables, a field with a resolver of its own) is executed per subscriber.
 */

interface Event {
  status: string;
}

type Resolve = (event: Event, args: unknown, context: { caller: string }) => unknown;

function schemaCounting(calls: { root: number; own: number }, statusResolve?: Resolve): GraphQLSchema {
  const eventType = new GraphQLObjectType<Event>({
    name: 'Event',
    fields: {
      status: { type: GraphQLString, resolve: statusResolve },
      own: {
        type: GraphQLString,
        resolve: (_event, _args, context: { caller: string }) => {
          calls.own++;
          return context.caller;
        },
      },
    },
  });
  const field = (shared: boolean) => ({
    type: eventType,
    args: { id: { type: new GraphQLNonNull(GraphQLString) } },
    extensions: shared ? { [SHARED_FAN_OUT]: true } : {},
    subscribe: (_root: unknown, _args: unknown, context: { events: Event[] }) => iterate(context.events),
    resolve: (event: Event) => {
      calls.root++;
      return event;
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: { watched: field(true), unmarked: field(false) },
    }),
  });
}

async function* iterate(events: Event[]): AsyncGenerator<Event> {
  for (const event of events) yield event;
}

async function collect(
  fanOut: FanOutSubscriber,
  schema: GraphQLSchema,
  query: string,
  events: Event[],
  variables: Record<string, unknown> = { id: '1' },
  caller = 'a',
  operationName?: string,
): Promise<ExecutionResult[]> {
  const stream = await fanOut.subscribe({
    schema,
    document: parse(query),
    operationName,
    variableValues: variables,
    contextValue: { events, caller },
  });
  if (!(Symbol.asyncIterator in stream)) throw new Error(JSON.stringify(stream));
  const results: ExecutionResult[] = [];
  for await (const result of stream) results.push(result);
  return results;
}

const WATCHED = 'subscription ($id: String!) { watched(id: $id) { status } }';

describe('FanOutSubscriber', () => {
  it('executes a shared document once per event, whatever the number of subscribers', async () => {
    const calls = { root: 0, own: 0 };
    const schema = schemaCounting(calls);
    const fanOut = new FanOutSubscriber();
    const events = [{ status: 'RUNNING' }, { status: 'SUCCESS' }];
    const all = await Promise.all([1, 2, 3].map(() => collect(fanOut, schema, WATCHED, events)));
    for (const results of all) {
      expect(results).toEqual([
        { data: { watched: { status: 'RUNNING' } } },
        { data: { watched: { status: 'SUCCESS' } } },
      ]);
    }
    expect(calls.root).toBe(2);
  });

  it('executes per subscriber when variables differ, a field has its own resolver, or the root is not marked', async () => {
    const calls = { root: 0, own: 0 };
    const schema = schemaCounting(calls);
    const fanOut = new FanOutSubscriber();
    const events = [{ status: 'RUNNING' }];
    await collect(fanOut, schema, WATCHED, events, { id: '1' });
    await collect(fanOut, schema, WATCHED, events, { id: '2' });
    expect(calls.root).toBe(2);

    const own = 'subscription { watched(id: "1") { status own } }';
    const [a, b] = await Promise.all([
      collect(fanOut, schema, own, events, {}, 'a'),
      collect(fanOut, schema, own, events, {}, 'b'),
    ]);
    expect(a).toEqual([{ data: { watched: { status: 'RUNNING', own: 'a' } } }]);
    expect(b).toEqual([{ data: { watched: { status: 'RUNNING', own: 'b' } } }]);
    expect(calls.own).toBe(2);

    calls.root = 0;
    const unmarked = 'subscription { unmarked(id: "1") { status } }';
    await Promise.all([collect(fanOut, schema, unmarked, events), collect(fanOut, schema, unmarked, events)]);
    expect(calls.root).toBe(2);
  });

  it('judges each operation of a document on its own: a shareable one does not make its neighbour shared', async () => {
    const calls = { root: 0, own: 0 };
    const schema = schemaCounting(calls);
    const fanOut = new FanOutSubscriber();
    const events = [{ status: 'RUNNING' }];
    const document =
      'subscription A { watched(id: "1") { status } } subscription B { watched(id: "1") { status own } }';
    await collect(fanOut, schema, document, events, {}, 'a', 'A');
    const [b1, b2] = await Promise.all([
      collect(fanOut, schema, document, events, {}, 'b1', 'B'),
      collect(fanOut, schema, document, events, {}, 'b2', 'B'),
    ]);
    expect(b1).toEqual([{ data: { watched: { status: 'RUNNING', own: 'b1' } } }]);
    expect(b2).toEqual([{ data: { watched: { status: 'RUNNING', own: 'b2' } } }]);
    expect(calls.own).toBe(2);
  });

  describe("Nest's property reader, recognized by its code rather than its name", () => {
    @ObjectType('NestEvent')
    class NestEvent {
      @Field()
      status!: string;
    }
    @Resolver(() => NestEvent)
    class NestEvents {
      @Query(() => NestEvent)
      event(): NestEvent {
        return { status: 'RUNNING' };
      }
    }

    /** The resolver Nest gives a plain `@Field` (built by Nest, as the gateway's schema is). */
    async function nestReader(): Promise<Resolve> {
      const app = await NestFactory.createApplicationContext(GraphQLSchemaBuilderModule, { logger: false });
      try {
        const schema = await app.get(GraphQLSchemaFactory).create([NestEvents]);
        const type = schema.getType('NestEvent') as GraphQLObjectType;
        const resolve = type.getFields().status.resolve;
        if (!resolve) throw new Error('Nest left the plain field without a resolver');
        return resolve as Resolve;
      } finally {
        await app.close();
      }
    }

    it('is found from the installed Nest', () => {
      expect(nestPropertyReaderSource).toEqual(expect.stringContaining('root['));
    });

    it('shares fields Nest reads off the source, whatever the reader is called (a minified build)', async () => {
      const reader = await nestReader();
      Object.defineProperty(reader, 'name', { value: 'a' });
      const calls = { root: 0, own: 0 };
      const schema = schemaCounting(calls, reader);
      const fanOut = new FanOutSubscriber();
      const events = [{ status: 'RUNNING' }];
      const all = await Promise.all([1, 2, 3].map(() => collect(fanOut, schema, WATCHED, events)));
      for (const results of all) expect(results).toEqual([{ data: { watched: { status: 'RUNNING' } } }]);
      expect(calls.root).toBe(1);
    });

    it("does not take a resolver of ours for Nest's reader because it bears the name", async () => {
      const rootFieldResolver: Resolve = (_event, _args, context) => context.caller;
      const calls = { root: 0, own: 0 };
      const schema = schemaCounting(calls, rootFieldResolver);
      const fanOut = new FanOutSubscriber();
      const events = [{ status: 'RUNNING' }];
      const [a, b] = await Promise.all([
        collect(fanOut, schema, WATCHED, events, { id: '1' }, 'a'),
        collect(fanOut, schema, WATCHED, events, { id: '1' }, 'b'),
      ]);
      expect(a).toEqual([{ data: { watched: { status: 'a' } } }]);
      expect(b).toEqual([{ data: { watched: { status: 'b' } } }]);
      expect(calls.root).toBe(2);
    });
  });
});
