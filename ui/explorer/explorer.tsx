import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DEFAULT_HEADERS, defaultOperations } from './default-operations';
import './explorer.css';

/** Same origin only: HTTP to this gateway's /graphql, graphql-ws on the same path. */
const endpoint = new URL('/graphql', window.location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

const sameOrigin = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

/**
 * Headers whose value is empty are dropped, so the prefilled `X-API-Key` / `Authorization` hint is harmless
 * until filled. The toolkit sends the same headers as graphql-ws connection parameters, which the gateway
 * reads for subscriptions.
 */
const fetcher: Fetcher = (params, options) => {
  const headers = Object.fromEntries(
    Object.entries((options?.headers ?? {}) as Record<string, unknown>).filter(
      ([, value]) => value !== '' && value !== null && value !== undefined,
    ),
  );
  return sameOrigin(params, { ...options, headers });
};

const root = document.getElementById('explorer');
if (!root) throw new Error('the page has no #explorer element');

createRoot(root).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultTabs={defaultOperations.map((operation) => ({ ...operation, headers: DEFAULT_HEADERS }))}
      defaultHeaders={DEFAULT_HEADERS}
      defaultEditorToolsVisibility="headers"
      shouldPersistHeaders={false}
    >
      <GraphiQL.Logo>maia-gateway</GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
