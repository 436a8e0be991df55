import { serverConfig } from './server.config';

describe('GRAPHQL_EXPLORER', () => {
  const production = { GATEWAY_MODE: 'production' };

  it('is GraphiQL outside production and off in production unless one is named', () => {
    expect(serverConfig({}).graphqlExplorer).toBe('graphiql');
    expect(serverConfig({ GATEWAY_MODE: 'development', GRAPHQL_EXPLORER: '' }).graphqlExplorer).toBe(
      'graphiql',
    );
    expect(serverConfig(production).graphqlExplorer).toBe('off');
    expect(serverConfig({ ...production, GRAPHQL_EXPLORER: 'false' }).graphqlExplorer).toBe('off');
    expect(serverConfig({ ...production, GRAPHQL_EXPLORER: 'graphiql' }).graphqlExplorer).toBe('graphiql');
    expect(serverConfig({ ...production, GRAPHQL_EXPLORER: 'true' }).graphqlExplorer).toBe('graphiql');
  });

  it('shows Apollo Sandbox only when asked for, and none when turned off', () => {
    expect(serverConfig({ GRAPHQL_EXPLORER: 'apollo-sandbox' }).graphqlExplorer).toBe('apollo-sandbox');
    expect(serverConfig({ ...production, GRAPHQL_EXPLORER: 'apollo-sandbox' }).graphqlExplorer).toBe(
      'apollo-sandbox',
    );
    expect(serverConfig({ GRAPHQL_EXPLORER: 'off' }).graphqlExplorer).toBe('off');
  });

  it('refuses a name it does not know', () => {
    expect(() => serverConfig({ GRAPHQL_EXPLORER: 'playground' })).toThrow(/GRAPHQL_EXPLORER/);
  });
});
