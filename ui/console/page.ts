import type { ApiError } from './api';
import { h } from './dom';

/** What a route renders: its element, its title, and how to stop its subscriptions when left. */
export interface Page {
  title: string;
  element: HTMLElement;
  stop?: () => void;
}

export const BASE = '/console';

export function runPath(projectId: string, executionId: string): string {
  return `${BASE}/runs/${encodeURIComponent(projectId)}/${encodeURIComponent(executionId)}`;
}

/** Every error the same way: its code, then the gateway's message. */
export function showError(error: ApiError | Error): HTMLElement {
  const code = 'code' in error ? String(error.code) : 'INTERNAL';
  return h('p', { class: 'error', 'data-code': code }, h('code', null, code), ' ', error.message);
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `status status-${status.toLowerCase()}`, 'data-status': status }, status);
}
