import { z } from 'zod';
import { type Env } from './env';

// Filled in by the authentication work (API keys, JWT/JWKS); until then the gateway is open.
const schema = z.object({});

export function authConfig(env: Env) {
  schema.parse(env);
  return {};
}
export type AuthConfig = ReturnType<typeof authConfig>;
