import './console.css';
import { ApiError, loadCredential, saveCredential, type CredentialKind } from './api';
import { field, h, replace } from './dom';
import { BASE, type Page, showError } from './page';
import { runPage } from './run-page';
import { runsPage } from './runs-page';
import { loadSession, may, type Session } from './session';
import { startPage } from './start-page';

const root = document.getElementById('console') as HTMLElement;
const main = h('main', { id: 'main', tabindex: '-1' });
const header = h('header');
let session: Session | null = null;
let current: Page | null = null;

/** Client-side routes under /console: the list, a run, the start form. */
function pageFor(pathname: string): Page {
  if (!session) throw new Error('no session');
  const path = pathname.replace(/\/+$/, '');
  const run = /^\/console\/runs\/([^/]+)\/([^/]+)$/.exec(path);
  if (run) return runPage(session, decodeURIComponent(run[1]), decodeURIComponent(run[2]), navigate);
  if (path === `${BASE}/start` && may(session, 'execute')) return startPage(session, navigate);
  if (path === BASE || path === '') return runsPage(session, navigate);
  return {
    title: 'Not found',
    element: h('section', null, h('h1', null, 'Not found'), h('p', null, h('a', { href: BASE }, 'All runs'))),
  };
}

function render(): void {
  current?.stop?.();
  current = pageFor(location.pathname);
  document.title = `${current.title} · maia-gateway console`;
  replace(main, current.element);
}

/**
 * A new route without a reload. Focus goes to the new content, or back to the control with `focusId` (a
 * filter changed by keyboard keeps its focus, so arrowing through its options goes on working).
 */
export function navigate(path: string, focusId?: string): void {
  history.pushState(null, '', path);
  render();
  const control = focusId ? document.getElementById(focusId) : null;
  (control ?? main).focus();
}

// Links inside the console change the route without a reload; others (and modified clicks) go on as links.
document.addEventListener('click', (event) => {
  const link = (event.target as Element | null)?.closest?.('a');
  if (
    !link ||
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey
  )
    return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`)))
    return;
  event.preventDefault();
  navigate(`${url.pathname}${url.search}`);
});
window.addEventListener('popstate', render);

function renderHeader(): void {
  const viewer = session?.viewer;
  replace(
    header,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'nav',
      { 'aria-label': 'Console' },
      h('a', { href: BASE, class: 'brand' }, 'maia-gateway console'),
      viewer && h('a', { href: BASE }, 'Runs'),
      viewer && may(session as Session, 'execute') && h('a', { href: `${BASE}/start` }, 'Start a run'),
      h('a', { href: '/graphql' }, 'GraphQL explorer'),
    ),
    viewer &&
      h(
        'p',
        { class: 'viewer' },
        `Signed in as ${viewer.name} · ${viewer.scopes.join(', ')}`,
        loadCredential() &&
          h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'),
      ),
  );
}

function signOut(): void {
  saveCredential(null);
  session = null;
  current?.stop?.();
  current = null;
  void start();
}

/** With authentication on: an API key or a bearer token, kept in sessionStorage only. */
function signIn(error?: ApiError): void {
  const kind = h(
    'select',
    { id: 'credential-kind' },
    h('option', { value: 'api-key' }, 'API key (X-API-Key)'),
    h('option', { value: 'bearer' }, 'Bearer token (Authorization)'),
  );
  const secret = h('input', { id: 'credential', type: 'password', required: true, autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-heading' },
    h('h1', { id: 'sign-in-heading' }, 'Sign in'),
    h(
      'p',
      null,
      'This gateway requires a credential. It is kept in this tab only (session storage) and sent to this gateway alone.',
    ),
    error && h('div', { class: 'errors', role: 'alert' }, showError(error)),
    field('Credential type', kind),
    field('Key or token', secret),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveCredential({ kind: kind.value as CredentialKind, value: secret.value.trim() });
    void start();
  });
  renderHeader();
  document.title = 'Sign in · maia-gateway console';
  replace(main, form);
  secret.focus();
}

async function start(): Promise<void> {
  try {
    session = await loadSession();
  } catch (error) {
    const failure = error instanceof ApiError ? error : new ApiError('INTERNAL', String(error));
    if (failure.code === 'UNAUTHENTICATED') {
      // A stored credential the gateway refuses is dropped: ask again, saying why.
      const stored = loadCredential();
      saveCredential(null);
      signIn(stored ? failure : undefined);
      return;
    }
    renderHeader();
    replace(main, h('section', null, h('h1', null, 'The console could not start'), showError(failure)));
    return;
  }
  renderHeader();
  render();
}

replace(root, header, main);
void start();
