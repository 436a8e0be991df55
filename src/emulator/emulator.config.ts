import { HttpProblem, isPlainObject } from './http.util';

/** The emulator's runtime settings: set at start, changed by `PATCH /__emulator/config`, restored by reset. */
export interface EmulatorConfig {
  /** Multiplies every scripted duration of executions started from now on. */
  timeScale: number;
  tokenLifetimeSeconds: number;
  rateLimitPerMinute: number;
  detailsWrapped: boolean;
}

export const defaultEmulatorConfig: EmulatorConfig = {
  timeScale: 1,
  tokenLifetimeSeconds: 1800,
  rateLimitPerMinute: 1000,
  detailsWrapped: false,
};

/** Checks a start option or a PATCH body; names the bad field. */
export function validateConfigPatch(raw: unknown): Partial<EmulatorConfig> {
  if (!isPlainObject(raw)) throw new HttpProblem(400, 'config must be a JSON object');
  const patch: Partial<EmulatorConfig> = {};
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'timeScale':
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
          throw new HttpProblem(400, 'timeScale must be a number > 0');
        }
        patch.timeScale = value;
        break;
      case 'tokenLifetimeSeconds':
      case 'rateLimitPerMinute':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
          throw new HttpProblem(400, `${key} must be an integer >= 1`);
        }
        patch[key] = value;
        break;
      case 'detailsWrapped':
        if (typeof value !== 'boolean') throw new HttpProblem(400, 'detailsWrapped must be a boolean');
        patch.detailsWrapped = value;
        break;
      default:
        throw new HttpProblem(400, `unknown config field "${key}"`);
    }
  }
  return patch;
}
