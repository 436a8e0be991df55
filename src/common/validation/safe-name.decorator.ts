import { applyDecorators } from '@nestjs/common';
import { IsString, Length, ValidateBy } from 'class-validator';

/** Longest name Maia accepts for environments, pipelines, versions and tags. */
export const MAX_NAME_LENGTH = 255;

// C0 controls, DEL and C1 controls: never part of a real name, and a classic log/header injection vector.
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** True for a string that is a usable name: 1..255 characters and no control characters. */
export function isSafeName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= MAX_NAME_LENGTH &&
    !CONTROL_CHARACTERS.test(value)
  );
}

/**
 * A name as Maia keys things (environments, pipelines, versions, tags): 1..255 characters without control
 * characters. Names are passed upstream URL-encoded, so slashes and dots are harmless and allowed
 * (pipeline names are often paths such as `FOLDER/load_orders.orch.yaml`).
 */
export function IsSafeName(maxLength = MAX_NAME_LENGTH): PropertyDecorator {
  return applyDecorators(
    IsString(),
    Length(1, maxLength, { message: `$property must be 1 to ${maxLength} characters long` }),
    ValidateBy({
      name: 'hasNoControlCharacters',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !CONTROL_CHARACTERS.test(value),
        defaultMessage: () => '$property must not contain control characters',
      },
    }),
  );
}
