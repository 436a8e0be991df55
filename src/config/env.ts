import { z } from 'zod';

/** Helpers for reading environment variables with zod: every value arrives as a string or not at all. */
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const envNumber = (fallback: number, min = 0, max = Number.MAX_VALUE) =>
  z.coerce.number().min(min).max(max).default(fallback);

export const envBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Empty strings count as unset, so `FOO=` in a .env file means "use the default". */
export const envOptionalString = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const envUrl = () =>
  envOptionalString().refine((v) => v === undefined || URL.canParse(v), {
    message: 'must be an absolute URL',
  });

export type Env = Record<string, string | undefined>;
