import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../errors';
import { lowerCaseUuids } from './uuid';

/** Flattens nested class-validator errors into `path: message` lines. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  const out: string[] = [];
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push(
        message.startsWith(error.property)
          ? `${parent ? `${parent}.` : ''}${message}`
          : `${path}: ${message}`,
      );
    }
    if (error.children?.length) out.push(...describeValidationErrors(error.children, path));
  }
  return out;
}

const exceptionFactory = (errors: ValidationError[]) => {
  const problems = describeValidationErrors(errors);
  return new GatewayError(ErrorCode.BAD_USER_INPUT, `Invalid input: ${problems.join('; ')}`, {
    fields: [...new Set(errors.map((e) => e.property))].join(','),
  });
};

const options = {
  transform: true,
  whitelist: true,
  forbidUnknownValues: false,
  validationError: { target: false, value: false },
  exceptionFactory,
};

/**
 * The one validation pipe for GraphQL arguments and REST bodies, queries and params. Unknown properties of
 * bodies and GraphQL arguments are refused (not silently dropped) so a typo is noticed. Unknown query
 * parameters are dropped instead, as Maia ignores them: a Maia client sends parameters the gateway does
 * not model, and only the modelled ones ever reach Maia. Every failure is a `BAD_USER_INPUT` that names
 * the offending fields. Input values are never echoed: they may be long, or secret. UUIDs of id arguments
 * come out in lower case, so an id is accepted in any case everywhere. An explicit `null` on an optional
 * argument or input member reads as absent (`withoutNulls`), for every resolver and every body.
 */
export class GatewayValidationPipe extends ValidationPipe {
  private readonly lenient = new ValidationPipe({ ...options, forbidNonWhitelisted: false });
  /** Valid flat inputs already transformed, by class then by input (see `flatKeyOf`). */
  private readonly known = new WeakMap<object, Map<string, object>>();

  constructor() {
    super({ ...options, forbidNonWhitelisted: true });
  }

  /**
   * Validates, then writes the UUIDs of id arguments in lower case (`lowerCaseUuids`).
   * The same flat input (page and size of a list, a project id...) always transforms to the same instance:
   * class-transformer and class-validator ran on every argument of every resolver call (a nested read calls
   * dozens), so a valid flat input is remembered and each call gets its own shallow copy of the result.
   * Inputs with objects or arrays inside, and refused inputs, are validated every time. Values of `custom`
   * parameters are returned as they are.
   */
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Not input: the parent, context and info of a GraphQL resolver, `@CurrentPrincipal()`, `@Req()`,
    // `@Headers()`. Validation never applied to them, and walking them for ids (a GraphQL context holds the
    // whole request) was ~5% of a nested read's CPU, once per field resolver call.
    if (metadata.type === 'custom') return value;
    const metatype = metadata.metatype;
    // A named argument sent as null (`@Args('name')`) is absent too, as its members are.
    if (value === null && metadata.type === 'body' && metadata.data) return undefined;
    const key = metatype ? flatKeyOf(metadata.type, value) : undefined;
    if (key === undefined) return lowerCaseUuids(await this.check(value, metadata), metadata.data);
    let byInput = this.known.get(metatype as object);
    const hit = byInput?.get(key);
    if (hit) return copyOf(hit);
    // Remembered after `lowerCaseUuids`: a hit is already in lower case.
    const result = lowerCaseUuids(await this.check(value, metadata), metadata.data);
    // A result holding an object or a list (a `@Transform` made one from a flat value, as a repeatable
    // query parameter's list) is not remembered: every copy would share it.
    if (result === null || typeof result !== 'object' || !holdsOnlyValues(result)) return result;
    if (!byInput) {
      byInput = new Map();
      this.known.set(metatype as object, byInput);
    }
    // Bounded: a client sending ever new values would otherwise grow it without end.
    if (byInput.size >= MAX_KNOWN_INPUTS) byInput.clear();
    byInput.set(
      key,
      Object.assign(Object.create(Object.getPrototypeOf(result) as object | null) as object, result),
    );
    return result;
  }

  /**
   * What `transform` would answer for a flat input it has already validated (its own shallow copy of the
   * remembered instance), without waiting a turn; undefined when the input is not one (then `transform`).
   */
  transformKnown(value: unknown, metadata: ArgumentMetadata): object | undefined {
    if (metadata.type === 'custom' || !metadata.metatype) return undefined;
    const key = flatKeyOf(metadata.type, value);
    const hit = key === undefined ? undefined : this.known.get(metadata.metatype)?.get(key);
    return hit === undefined ? undefined : copyOf(hit);
  }

  private async check(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query') return withoutNulls(await this.lenient.transform(value, metadata));
    return withoutNulls(await super.transform(value, metadata));
  }
}

/**
 * Leaves out the members set to null of a transformed input and of the inputs nested in it (in members and
 * lists), so a resolver or a service sees one "absent", `undefined`, and never has to tell `null` apart:
 * GraphQL clients and code generators send `null` for an optional member they do not set, and it means the
 * same as leaving it out. Validation ran before, with `@IsOptional` treating both alike, and a required
 * member is refused whichever it was. Only instances of input classes are touched (class-transformer built
 * them for this call, so they are ours to change): a free-form map, such as a REST body's
 * `scalarVariables`, is a value and keeps its nulls for its own validation to judge.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    // Lists of lists (a grid's rows) hold values, not inputs: only the objects of a list are looked into.
    for (const item of value) if (typeof item === 'object' && !Array.isArray(item)) withoutNulls(item);
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype === null || prototype === Object.prototype) return value;
  const members = value as Record<string, unknown>;
  for (const name of Object.keys(members)) {
    const member = members[name];
    if (member === null) delete members[name];
    else if (typeof member === 'object') withoutNulls(member);
  }
  return value;
}

/** Whether every own member is a plain value (no object or list a copy would share). */
function holdsOnlyValues(result: object): boolean {
  for (const member of Object.values(result)) if (member !== null && typeof member === 'object') return false;
  return true;
}

/** A shallow copy with the same prototype: each caller may change its input without changing anyone else's. */
function copyOf(remembered: object): object {
  return Object.assign(
    Object.create(Object.getPrototypeOf(remembered) as object | null) as object,
    remembered,
  );
}

const MAX_KNOWN_INPUTS = 1_000;
const MAX_KEY_CHARS = 512;

/**
 * Whether a prototype adds nothing to its objects: no members of its own and none inherited. Query
 * parsers make their result objects this way for speed (Fastify's `fast-querystring`: `new Empty()`, whose
 * prototype is `Object.create(null)`); such an object holds exactly its own members, like a plain one, so
 * its validated result may be remembered too (it never was: every REST query was validated anew).
 */
function isDictionaryPrototype(prototype: object): boolean {
  return Object.getPrototypeOf(prototype) === null && Reflect.ownKeys(prototype).length === 0;
}

/**
 * A key telling flat inputs apart exactly (member names, types and values, undefined members included),
 * or undefined for anything else: a plain object whose members are all strings, numbers, booleans, null or
 * undefined, and short.
 */
function flatKeyOf(type: string, value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype !== null && prototype !== Object.prototype && !isDictionaryPrototype(prototype))
    return undefined;
  let key = type;
  for (const name of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[name];
    const kind = member === null ? 'null' : typeof member;
    if (
      kind !== 'string' &&
      kind !== 'number' &&
      kind !== 'boolean' &&
      kind !== 'null' &&
      kind !== 'undefined'
    ) {
      return undefined;
    }
    // JSON strings delimit themselves (control characters escaped): no name or value can make the key
    // of another input, as raw separators let a crafted name do (a query parser percent-decodes names).
    key += `,${JSON.stringify(name)}:${kind}:${JSON.stringify(String(member))}`;
    if (key.length > MAX_KEY_CHARS) return undefined;
  }
  return key;
}
