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
 * come out in lower case, so an id is accepted in any case everywhere.
 */
export class GatewayValidationPipe extends ValidationPipe {
  private readonly lenient = new ValidationPipe({ ...options, forbidNonWhitelisted: false });

  constructor() {
    super({ ...options, forbidNonWhitelisted: true });
  }

  /** Validates, then writes the UUIDs of id arguments in lower case (`lowerCaseUuids`). */
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const valid: unknown =
      metadata.type === 'query'
        ? await this.lenient.transform(value, metadata)
        : await super.transform(value, metadata);
    return lowerCaseUuids(valid, metadata.data);
  }
}
