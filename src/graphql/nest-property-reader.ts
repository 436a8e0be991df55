import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * How @nestjs/graphql (code-first) reads a plain `@Field` without middleware: a closure of its own
 * (`ObjectTypeDefinitionFactory.createFieldResolver`) that returns the source's property (or the field's
 * declared default), which Nest gives every plain field instead of leaving graphql-js's default resolver.
 * A field with a resolver of ours (`@ResolveField`, bound by Nest), with field middleware, or replaced at
 * start-up (`DirectFieldResolvers`) has another function.
 *
 * Recognized by its code, not its name (a minifier or a Nest release may rename it): Nest's factory makes
 * one reader here, for a probe field, and it must read only its source's property (never the arguments,
 * the context or the info, which are traps here); a field's resolver is Nest's reader when its source text
 * is that reader's (the same function expression of the same Nest build). The factory is not among the
 * package's exports, so it is loaded by its file; should Nest move it, change what its reader does, or
 * should anything here fail, there is no reference and nothing is shared (the fan-out suite says so),
 * never the other way round.
 */
export const nestPropertyReaderSource: string | null = loadNestPropertyReaderSource();

function loadNestPropertyReaderSource(): string | null {
  try {
    const requireHere = createRequire(__filename);
    const entry = requireHere.resolve('@nestjs/graphql');
    const factoryFile = join(
      dirname(entry),
      'schema-builder',
      'factories',
      'object-type-definition.factory.js',
    );
    const factory = (requireHere(factoryFile) as { ObjectTypeDefinitionFactory?: { prototype?: object } })
      .ObjectTypeDefinitionFactory;
    const make = (factory?.prototype as { createFieldResolver?: unknown } | undefined)?.createFieldResolver;
    if (typeof make !== 'function') return null;
    const probe = { name: 'probe', options: { defaultValue: 'default' } };
    const reader: unknown = make.call(Object.create(factory?.prototype ?? null), probe, {
      fieldMiddleware: [],
    });
    return readsOnlyItsProperty(reader) ? Function.prototype.toString.call(reader) : null;
  } catch {
    return null;
  }
}

/** True when `reader` answers the probe property of its source (or the default) and touches nothing else. */
function readsOnlyItsProperty(reader: unknown): reader is (...args: unknown[]) => unknown {
  if (typeof reader !== 'function') return false;
  const touched = new Set<PropertyKey>();
  const source = (value: object) =>
    new Proxy(value, {
      get: (target, key) => {
        touched.add(key);
        return (target as Record<PropertyKey, unknown>)[key];
      },
    });
  const trap = new Proxy(
    {},
    {
      get: () => {
        throw new Error('a property reader read beyond its source');
      },
      has: () => {
        throw new Error('a property reader read beyond its source');
      },
    },
  );
  const call = reader as (...args: unknown[]) => unknown;
  if (call(source({ probe: 'value' }), trap, trap, trap) !== 'value') return false;
  if (call(source({}), trap, trap, trap) !== 'default') return false;
  return [...touched].every((key) => key === 'probe');
}

/** True when `resolve` is Nest's reader of a plain field (see `nestPropertyReaderSource`). */
export function isNestPropertyReader(resolve: unknown): boolean {
  return (
    typeof resolve === 'function' &&
    nestPropertyReaderSource !== null &&
    Function.prototype.toString.call(resolve) === nestPropertyReaderSource
  );
}

/**
 * The property a Nest reader answers, when it answers that property as it is and nothing else: the one
 * member of its source it reads, and no declared default for an absent value. Undefined for any other
 * function, or a reader with a default. Calling a Nest reader is safe: it is the reader's known code (see
 * `nestPropertyReaderSource`), reading one member of the probe object given.
 */
export function plainPropertyOf(resolve: unknown): string | undefined {
  if (!isNestPropertyReader(resolve)) return undefined;
  const read: PropertyKey[] = [];
  const probe = new Proxy(
    {},
    {
      get: (_target, key) => {
        read.push(key);
        return undefined;
      },
    },
  );
  try {
    const answer = (resolve as (source: object) => unknown)(probe);
    if (answer !== undefined || read.length !== 1 || typeof read[0] !== 'string') return undefined;
    return read[0];
  } catch {
    return undefined;
  }
}
