import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Body, Controller, Get, Injectable, Module, Post, Query as HttpQuery } from '@nestjs/common';
import { Args, GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  installRequestContext,
  REQUEST_ID_HEADER,
  RequestContext,
  requestIdFrom,
  STALE_RESOURCES_HEADER,
} from './request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it('keeps a sane caller id', () => {
    expect(requestIdFrom('abc-123_X.y')).toBe('abc-123_X.y');
    expect(requestIdFrom(['first', 'second'])).toBe('first');
    expect(requestIdFrom('a'.repeat(128))).toBe('a'.repeat(128));
  });

  it('replaces a missing, oversized or unsafe id with a UUID', () => {
    for (const bad of [undefined, '', 'a'.repeat(129), 'has space', 'new\nline', 'semi;colon', 'ü']) {
      expect(requestIdFrom(bad)).toMatch(UUID);
    }
  });
});

describe('RequestContext', () => {
  it('is one per raw request, made by whichever edge asks first, with the caller id when sane', () => {
    const raw = { headers: { [REQUEST_ID_HEADER]: 'edge-1' } } as unknown as IncomingMessage;
    const first = RequestContext.of(raw);
    expect(first.requestId).toBe('edge-1');
    expect(RequestContext.of(raw)).toBe(first);
    const other = RequestContext.of({ headers: {} } as unknown as IncomingMessage);
    expect(other).not.toBe(first);
    expect(other.requestId).toMatch(UUID);
  });

  it('is undefined outside a request and marking stale there is a no-op', () => {
    expect(RequestContext.current()).toBeUndefined();
    expect(() => RequestContext.markStale('projects')).not.toThrow();
  });

  it('names no stale resource until one is marked, then each once, per context', () => {
    const ctx = new RequestContext('r-1');
    const other = new RequestContext('r-2');
    expect(ctx.staleResources.size).toBe(0);
    ctx.markStale('projects');
    ctx.markStale('environments');
    ctx.markStale('projects');
    expect([...ctx.staleResources]).toEqual(['projects', 'environments']);
    expect(other.staleResources.size).toBe(0);
    expect([...new RequestContext('r-3').staleResources]).toEqual([]);
  });

  it('follows awaits, timers and concurrent runs without mixing them up', async () => {
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        RequestContext.run(new RequestContext(`r${i}`), async () => {
          await sleep(20 - i);
          await new Promise((resolve) => setImmediate(resolve));
          RequestContext.markStale(`res${i}`);
          return [RequestContext.current()?.requestId, [...(RequestContext.current()?.staleResources ?? [])]];
        }),
      ),
    );
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => [`r${i}`, [`res${i}`]]));
    expect(RequestContext.current()).toBeUndefined();
  });
});

/** A service two layers below the edge, as the real services are: it only sees the ambient context. */
@Injectable()
class ProbeService {
  async whoAmI(delayMs: number, stale?: string): Promise<{ requestId: string | undefined }> {
    await sleep(delayMs);
    await new Promise((resolve) => setImmediate(resolve));
    const requestId = await Promise.resolve().then(() => RequestContext.current()?.requestId);
    if (stale) RequestContext.markStale(stale);
    return { requestId };
  }
}

@Controller('probe')
class ProbeController {
  constructor(private readonly probe: ProbeService) {}

  @Get()
  get(@HttpQuery('delayMs') delayMs = '0', @HttpQuery('stale') stale?: string) {
    return this.probe.whoAmI(Number(delayMs), stale);
  }

  @Post()
  post(@Body() body: { delayMs: number; padding?: string }) {
    return this.probe.whoAmI(body.delayMs);
  }
}

@Resolver()
class ProbeResolver {
  constructor(private readonly probe: ProbeService) {}

  @Query(() => String, { nullable: true })
  async requestId(@Args('stale', { nullable: true }) stale?: string): Promise<string | undefined> {
    return (await this.probe.whoAmI(5, stale)).requestId;
  }
}

@Module({
  imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })],
  controllers: [ProbeController],
  providers: [ProbeService, ProbeResolver],
})
class ProbeModule {}

describe('installRequestContext on the Nest Fastify app', () => {
  let app: NestFastifyApplication;
  let base: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    const adapter = new FastifyAdapter();
    installRequestContext(adapter.getInstance());
    app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });

  afterAll(async () => {
    await app.close();
  });

  it('reaches a service through awaits on a GET, with the caller id echoed', async () => {
    const res = await fetch(`${base}/probe?delayMs=10`, { headers: { [REQUEST_ID_HEADER]: 'client-id-1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get(REQUEST_ID_HEADER)).toBe('client-id-1');
    expect(await res.json()).toEqual({ requestId: 'client-id-1' });
    expect(res.headers.get(STALE_RESOURCES_HEADER)).toBeNull();
  });

  it('survives body parsing on a POST and generates an id for an unsafe one', async () => {
    const res = await fetch(`${base}/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: 'bad id!' },
      // A body large enough to arrive in several chunks, so parsing resumes from stream events.
      body: JSON.stringify({ delayMs: 5, padding: 'x'.repeat(90_000) }),
    });
    expect(res.status).toBe(201);
    const id = res.headers.get(REQUEST_ID_HEADER);
    expect(id).toMatch(UUID);
    expect(await res.json()).toEqual({ requestId: id });
  });

  it('survives a body that arrives slowly, in separate chunks', async () => {
    const answer = await new Promise<{ status: number; id: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${base}/probe`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: 'slow-body' },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, id: res.headers[REQUEST_ID_HEADER] as string, body }),
          );
        });
        req.write('{"delayMs":');
        setTimeout(() => req.end('3}'), 50);
      },
    );
    expect(answer.status).toBe(201);
    expect(answer.id).toBe('slow-body');
    expect(JSON.parse(answer.body)).toEqual({ requestId: 'slow-body' });
  });

  it('keeps 40 concurrent requests apart', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(`${base}/probe?delayMs=${(i * 7) % 25}`, {
          headers: { [REQUEST_ID_HEADER]: `req-${i}` },
        });
        return ((await res.json()) as { requestId: string }).requestId;
      }),
    );
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => `req-${i}`));
  });

  it('says which resources were answered stale in a header', async () => {
    const res = await fetch(`${base}/probe?stale=projects`);
    expect(res.headers.get(STALE_RESOURCES_HEADER)).toBe('projects');
  });

  it('reaches GraphQL resolvers (Apollo on Fastify) the same way', async () => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: 'gql-1' },
      body: JSON.stringify({ query: '{ requestId(stale: "environments") }' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { requestId: 'gql-1' } });
    expect(res.headers.get(STALE_RESOURCES_HEADER)).toBe('environments');
  });
});
