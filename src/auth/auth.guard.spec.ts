import { Controller, Get, Param, Post, Body } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { ProblemJsonExceptionFilter } from '../common/http/problem-json.filter';
import { ConfigModule, loadConfig } from '../config';
import { RedisModule } from '../redis/redis.module';
import { AccessPolicy } from './access-policy';
import { hashApiKey } from './api-key.authenticator';
import { AuthGate } from './auth-gate.service';
import { AuthGuard } from './auth.guard';
import { AuthModule } from './auth.module';
import { CurrentPrincipal } from './current-principal.decorator';
import type { Principal } from './principal';
import { PROJECT_DIRECTORY, type ProjectDirectory } from './project-directory';
import { Public } from './public.decorator';
import { RequireScope } from './require-scope.decorator';

const MINE = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const THEIRS = '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const NOBODYS = '00000000-0000-4000-8000-000000000000';

@Controller('t')
class TestController {
  @Get('open')
  @Public()
  open() {
    return { ok: true };
  }

  @Get('read')
  @RequireScope('read')
  read(@CurrentPrincipal() principal: Principal) {
    return { id: principal.id };
  }

  @Get('forgotten')
  forgotten() {
    return { leaked: true };
  }

  @Get('projects/:projectId')
  @RequireScope('read')
  project(@Param('projectId') projectId: string) {
    return { projectId };
  }

  @Post('execute')
  @RequireScope('execute')
  execute(@Body() body: { input?: { projectId?: string } }) {
    return { body };
  }
}

/** The directory double: answers only the one call it is made for. */
const directory: ProjectDirectory = {
  directory: jest.fn(async () => [{ id: MINE }, { id: THEIRS }]),
};

describe('AuthGuard (REST)', () => {
  let app: NestFastifyApplication;
  const reader = { 'x-api-key': 'reader-key-0123456789' };
  const admin = { 'x-api-key': 'admin-key-0123456789' };

  beforeAll(async () => {
    const config = loadConfig({
      GATEWAY_MODE: 'development',
      LOG_LEVEL: 'silent',
      AUTH_API_KEYS: JSON.stringify([
        { name: 'reader', sha256: hashApiKey(reader['x-api-key']), scopes: ['read'], projects: [MINE] },
        { name: 'admin', sha256: hashApiKey(admin['x-api-key']), scopes: ['admin'], projects: ['*'] },
      ]),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, AuthModule],
      controllers: [TestController],
      providers: [
        { provide: PROJECT_DIRECTORY, useValue: directory },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemJsonExceptionFilter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const response = await app.inject({ method: 'GET', url, headers });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  it('lets public routes through without credentials', async () => {
    expect(await get('/t/open')).toEqual({ status: 200, body: { ok: true } });
  });

  it('fails closed: a route without @RequireScope is refused, even to an admin', async () => {
    const answer = await get('/t/forgotten', admin);
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 'FORBIDDEN' });
    expect(JSON.stringify(answer.body)).not.toContain('leaked');
  });

  it('authenticates, checks the scope and hands the principal to the handler', async () => {
    expect((await get('/t/read')).status).toBe(401);
    expect(await get('/t/read', reader)).toEqual({ status: 200, body: { id: 'api-key:reader' } });
    const post = await app.inject({ method: 'POST', url: '/t/execute', headers: reader, payload: {} });
    expect(post.statusCode).toBe(403);
    expect(post.json()).toMatchObject({ code: 'FORBIDDEN', scope: 'execute' });
  });

  it('checks project ids in params and bodies: invalid, hidden and missing', async () => {
    expect(await get(`/t/projects/${MINE}`, reader)).toEqual({ status: 200, body: { projectId: MINE } });
    expect((await get('/t/projects/not-a-uuid', reader)).body).toMatchObject({ code: 'BAD_USER_INPUT' });
    const hidden = await get(`/t/projects/${THEIRS}`, reader);
    const missing = await get(`/t/projects/${NOBODYS}`, admin);
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    const normalise = (body: Record<string, unknown>, id: string) =>
      JSON.parse(JSON.stringify(body).replaceAll(id, '<id>')) as unknown;
    expect(normalise(hidden.body, THEIRS)).toEqual(normalise(missing.body, NOBODYS));

    const nested = await app.inject({
      method: 'POST',
      url: '/t/execute',
      headers: admin,
      payload: { input: { projectId: NOBODYS } },
    });
    expect(nested.statusCode).toBe(404);
  });
});

describe('AuthGuard decisions without waiting', () => {
  const reader = 'reader-key-0123456789';
  let gate: AuthGate;
  const frozen = Object.freeze([{ id: MINE.toUpperCase() }, { id: THEIRS }]);
  const lookups = jest.fn(async () => frozen);

  beforeAll(async () => {
    const config = loadConfig({
      GATEWAY_MODE: 'development',
      LOG_LEVEL: 'silent',
      AUTH_API_KEYS: JSON.stringify([
        { name: 'reader', sha256: hashApiKey(reader), scopes: ['read'], projects: [MINE, NOBODYS] },
      ]),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, AuthModule],
    }).compile();
    gate = moduleRef.get(AuthGate);
  });

  /** An HTTP execution context of `TestController[handler]` for a request with these parts. */
  function contextOf(
    handler: keyof TestController,
    parts: { params?: Record<string, string>; headers?: Record<string, string> } = {},
  ): ExecutionContextHost {
    const raw = { headers: parts.headers ?? { 'x-api-key': reader } } as unknown as IncomingMessage;
    const request = { raw, headers: raw.headers, params: parts.params ?? {}, query: {}, body: undefined };
    return new ExecutionContextHost([request, {}], TestController, TestController.prototype[handler]);
  }

  const guard = (): AuthGuard =>
    new AuthGuard(new Reflector(), gate, new AccessPolicy(), { directory: lookups });

  it('answers synchronously when nothing needs waiting: public, or admitted with no project to look up', () => {
    const g = guard();
    expect(g.canActivate(contextOf('open', { headers: {} }))).toBe(true);
    expect(g.canActivate(contextOf('read'))).toBe(true);
    expect(() => g.canActivate(contextOf('read', { headers: { 'x-api-key': 'wrong' } }))).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED' }),
    );
    expect(() => g.canActivate(contextOf('forgotten'))).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
    expect(() => g.canActivate(contextOf('execute'))).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(lookups).not.toHaveBeenCalled();
  });

  it('looks project ids up in the directory in any case, and refuses what it does not hold', async () => {
    const g = guard();
    const found = g.canActivate(contextOf('project', { params: { projectId: MINE } }));
    expect(found).toBeInstanceOf(Promise);
    await expect(found).resolves.toBe(true);
    await expect(
      g.canActivate(contextOf('project', { params: { projectId: NOBODYS } })),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Not the caller's: refused before the directory is read; not a UUID: BAD_USER_INPUT.
    lookups.mockClear();
    await expect(
      Promise.resolve().then(() => g.canActivate(contextOf('project', { params: { projectId: THEIRS } }))),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      Promise.resolve().then(() => g.canActivate(contextOf('project', { params: { projectId: 'x' } }))),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(lookups).not.toHaveBeenCalled();
  });
});
