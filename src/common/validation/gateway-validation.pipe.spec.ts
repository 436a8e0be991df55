import 'reflect-metadata';
import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { ListExecutionsQueryDto } from '../../executions/dto/execution-rest.dto';
import { PipelineExecutionsArgs } from '../../executions/dto/execution.inputs';
import { PageArgs } from '../../graphql/page.args';
import { GatewayError } from '../errors';
import { PageQueryDto } from '../http/page-query.dto';
import { GatewayValidationPipe } from './gateway-validation.pipe';

const args: ArgumentMetadata = { type: 'body', metatype: PageArgs };
const query: ArgumentMetadata = { type: 'query', metatype: PageQueryDto };

describe('GatewayValidationPipe', () => {
  const pipe = new GatewayValidationPipe();

  it('answers a repeated flat input with its own copy of the same instance', async () => {
    const first = (await pipe.transform({ page: 2, size: 5 }, args)) as PageArgs;
    const second = (await pipe.transform({ page: 2, size: 5 }, args)) as PageArgs;
    expect(second).toBeInstanceOf(PageArgs);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    second.page = 9; // a handler that changes its input changes nobody else's
    expect(((await pipe.transform({ page: 2, size: 5 }, args)) as PageArgs).page).toBe(2);
  });

  it('tells inputs apart by value and type, and refuses a bad one every time', async () => {
    expect(await pipe.transform({ page: 1, size: 5 }, args)).toMatchObject({ page: 1, size: 5 });
    for (let i = 0; i < 2; i++) {
      await expect(pipe.transform({ page: '1', size: 5 }, args)).rejects.toBeInstanceOf(GatewayError);
      await expect(pipe.transform({ page: 1, size: 5, extra: true }, args)).rejects.toBeInstanceOf(
        GatewayError,
      );
    }
  });

  it('transforms query strings as before: converted, clamped, unknown parameters dropped', async () => {
    for (let i = 0; i < 2; i++) {
      const dto = await pipe.transform({ page: '3', size: '500', unknown: 'x' }, query);
      expect(dto).toBeInstanceOf(PageQueryDto);
      expect({ ...(dto as object) }).toEqual({ page: 3, size: 100 });
    }
  });

  it('remembers a query object made the way query parsers make them (an empty prototype of its own)', async () => {
    // Fastify's parser (fast-querystring) answers `new Empty()`, `Empty.prototype = Object.create(null)`.
    const Empty = function (this: Record<string, string>) {} as unknown as new () => Record<string, string>;
    Empty.prototype = Object.create(null) as object;
    const parsed = (page: string, size: string) => Object.assign(new Empty(), { page, size });
    const local = new GatewayValidationPipe();
    const validations = jest.spyOn(ValidationPipe.prototype, 'transform');
    try {
      expect(local.transformKnown(parsed('1', '7'), query)).toBeUndefined();
      const first = await local.transform(parsed('1', '7'), query);
      const second = await local.transform(parsed('1', '7'), query);
      expect(validations).toHaveBeenCalledTimes(1);
      expect(second).toBeInstanceOf(PageQueryDto);
      expect(second).not.toBe(first);
      expect({ ...(second as object) }).toEqual({ page: 1, size: 7 });
      const known = local.transformKnown(parsed('1', '7'), query);
      expect(known).toBeInstanceOf(PageQueryDto);
      expect(known).toEqual(first);
      expect(known).not.toBe(first);
      // Another value is another input; a refused one is refused every time.
      expect(await local.transform(parsed('2', '7'), query)).toMatchObject({ page: 2, size: 7 });
      for (let i = 0; i < 2; i++) {
        await expect(local.transform(parsed('x', '7'), query)).rejects.toBeInstanceOf(GatewayError);
      }
      expect(local.transformKnown(parsed('x', '7'), query)).toBeUndefined();
      expect(validations).toHaveBeenCalledTimes(4);
    } finally {
      validations.mockRestore();
    }
  });

  it("a crafted name or value never makes another input's key (the memo would hand one caller another's result)", async () => {
    const Empty = function (this: Record<string, string>) {} as unknown as new () => Record<string, string>;
    Empty.prototype = Object.create(null) as object;
    const parsed = (members: Record<string, string>) => Object.assign(new Empty(), members);
    const local = new GatewayValidationPipe();
    // What the separators of a raw key would make of { page: '1', size: '7' }, by a name and by a value.
    const craftedInputs: Record<string, string>[] = [
      { 'page\u0001string\u00011\u0000size': '7' },
      { page: '1\u0000size\u0001string\u00017' },
      { 'page"': '1', size: '7' },
    ];
    for (const crafted of craftedInputs) {
      await local.transform(parsed(crafted), query).catch(() => undefined);
    }
    const victim = await local.transform(parsed({ page: '1', size: '7' }), query);
    expect({ ...(victim as object) }).toEqual({ page: 1, size: 7 });
  });

  it('does not remember a result holding a list made from a flat value (copies would share it)', async () => {
    const local = new GatewayValidationPipe();
    const statuses: ArgumentMetadata = { type: 'query', metatype: ListExecutionsQueryDto };
    const first = (await local.transform({ status: 'RUNNING' }, statuses)) as ListExecutionsQueryDto;
    expect(first.status).toEqual(['RUNNING']);
    first.status?.push('FAILED');
    expect(local.transformKnown({ status: 'RUNNING' }, statuses)).toBeUndefined();
    const second = (await local.transform({ status: 'RUNNING' }, statuses)) as ListExecutionsQueryDto;
    expect(second.status).toEqual(['RUNNING']);
  });

  it('does not remember objects whose prototype adds members', async () => {
    const local = new GatewayValidationPipe();
    const withMembers = Object.create({ size: '3' }) as Record<string, string>;
    withMembers.page = '1';
    await local.transform(withMembers, query);
    expect(local.transformKnown(withMembers, query)).toBeUndefined();
    const inherited = Object.create(Object.create(null) as object) as Record<string, string>;
    Object.setPrototypeOf(Object.getPrototypeOf(inherited), { size: '3' });
    inherited.page = '1';
    await local.transform(inherited, query);
    expect(local.transformKnown(inherited, query)).toBeUndefined();
  });

  it('reads an explicit null on an optional member as absent, nested inputs included, every time', async () => {
    const metadata: ArgumentMetadata = { type: 'body', metatype: PipelineExecutionsArgs };
    for (let i = 0; i < 2; i++) {
      const flat = (await pipe.transform({ first: 5, after: null }, metadata)) as PipelineExecutionsArgs;
      expect(flat).toBeInstanceOf(PipelineExecutionsArgs);
      expect({ ...flat }).toEqual({ first: 5 });
      expect('after' in flat).toBe(false);
      const nested = (await pipe.transform(
        { first: 5, after: null, filter: { status: null, pipelineName: 'x', projectId: null } },
        metadata,
      )) as PipelineExecutionsArgs;
      expect({ ...nested, filter: { ...nested.filter } }).toEqual({
        first: 5,
        filter: { pipelineName: 'x' },
      });
    }
    expect(await pipe.transform(null, { type: 'body', metatype: String, data: 'after' })).toBeUndefined();
  });

  it('hands a resolver its parent, context and principal as they are (custom parameters are not input)', async () => {
    const id = '4A8A6162-702B-4EFC-B2EC-C986E0BC95E4';
    const parent = Object.freeze({ id, name: 'Analytics' });
    const context = { req: { params: { projectId: id } } };
    const custom: ArgumentMetadata = { type: 'custom', metatype: Object };
    expect(await pipe.transform(parent, custom)).toBe(parent);
    expect(await pipe.transform(context, custom)).toBe(context);
    expect(context.req.params.projectId).toBe(id);
  });
});
