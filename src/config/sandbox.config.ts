import { envInt, envNumber, type Env } from './env';
import { z } from 'zod';

const schema = z.object({
  SANDBOX_EMULATOR_PORT: envInt(4010, 0, 65535),
  SANDBOX_TIME_SCALE: envNumber(1, 0.001, 100),
});

/** Sandbox mode only: where the built-in emulator listens and how fast its scripted runs go. */
export function sandboxConfig(env: Env) {
  const v = schema.parse(env);
  return { emulatorPort: v.SANDBOX_EMULATOR_PORT, timeScale: v.SANDBOX_TIME_SCALE };
}
export type SandboxConfig = ReturnType<typeof sandboxConfig>;
