import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('starts in sandbox mode with documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.server).toMatchObject({ mode: 'sandbox', port: 3000, bodyLimitBytes: 102_400 });
    expect(config.maia.baseUrl).toBe('https://eu1.api.matillion.com/dpc');
    expect(config.maia.tokenUrl).toBe('https://id.core.matillion.com/oauth/dpc/token');
    expect(config.redis.url).toBeUndefined();
    expect(config.server.graphqlExplorer).toBe('graphiql');
  });

  it('picks production mode and the region host once Maia credentials are given', () => {
    const config = loadConfig({
      MAIA_CLIENT_ID: 'id',
      MAIA_CLIENT_SECRET: 's3cret',
      MAIA_REGION: 'us1',
      // Production mode refuses to start without client authentication.
      AUTH_API_KEYS: JSON.stringify([
        { name: 'svc', sha256: 'a'.repeat(64), scopes: ['read'], projects: ['*'] },
      ]),
    });
    expect(config.server.mode).toBe('production');
    expect(config.server.graphqlExplorer).toBe('off');
    expect(config.maia.baseUrl).toBe('https://us1.api.matillion.com/dpc');
  });

  it.each([{ PORT: 'eighty' }, { LOG_LEVEL: 'loud' }, { PORT: '70000', GATEWAY_MODE: 'sandbox' }])(
    'reports a bad server setting alone, without an authentication companion (%j)',
    (env) => {
      const problems = (() => {
        try {
          loadConfig(env);
        } catch (error) {
          return (error as ConfigError).problems;
        }
        return [];
      })();
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${Object.keys(env)[0]}: `));
    },
  );

  it('still judges authentication by production mode once Maia credentials are given', () => {
    expect(() => loadConfig({ PORT: 'eighty', MAIA_CLIENT_ID: 'id', MAIA_CLIENT_SECRET: 's' })).toThrow(
      /AUTH_API_KEYS/,
    );
  });

  it('writes readable log lines in sandbox mode and JSON lines elsewhere, unless LOG_FORMAT says', () => {
    expect(loadConfig({}).server.logFormat).toBe('pretty');
    expect(loadConfig({ GATEWAY_MODE: 'development' }).server.logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }).server.logFormat).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });

  it('names every bad variable at once and never echoes a value', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://nope', MAIA_CLIENT_SECRET: 'top-secret-value' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain('PORT');
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('MAIA_CLIENT_ID');
    expect(message).not.toContain('top-secret-value');
  });

  it('treats empty values as unset, as a copied .env.example has them', () => {
    const config = loadConfig({
      MAIA_CLIENT_ID: '',
      MAIA_CLIENT_SECRET: '',
      REDIS_URL: '',
      GATEWAY_MODE: undefined,
    });
    expect(config.server.mode).toBe('sandbox');
    expect(config.redis.url).toBeUndefined();
  });
});
