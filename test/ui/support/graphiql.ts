import type { Page } from 'playwright-core';
import { eventually } from '../../support/eventually';

/** GraphiQL 4's parts, as its own class names mark them. */
export const GRAPHIQL = {
  container: '.graphiql-container',
  queryEditor: '.graphiql-query-editor',
  /** The open one of the variables and headers editors. */
  toolEditor: '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
  result: '.graphiql-response',
  run: '.graphiql-execute-button',
  tab: '.graphiql-tab',
  tabButton: '.graphiql-tab-button',
  activeTab: '.graphiql-tab-active',
} as const;

type CodeMirrorElement = { CodeMirror: { getValue(): string; setValue(value: string): void } };

/** The text of the editor under `selector` (GraphiQL 4's editors are CodeMirror 5). */
export async function editorText(page: Page, selector: string): Promise<string> {
  return page.$eval(`${selector} .CodeMirror`, (e) =>
    (e as unknown as CodeMirrorElement).CodeMirror.getValue(),
  );
}

/** Replaces the editor's text as a paste would (GraphiQL sees the change like any edit). */
export async function setEditorText(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(
    `${selector} .CodeMirror`,
    (e, value) => (e as unknown as CodeMirrorElement).CodeMirror.setValue(value),
    text,
  );
}

/** Waits until the result pane shows `text`. */
export async function resultShows(page: Page, text: string | RegExp): Promise<string> {
  return eventually(
    async () => {
      const result = await editorText(page, GRAPHIQL.result);
      if (typeof text === 'string') expect(result).toContain(text);
      else expect(result).toMatch(text);
      return result;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}
