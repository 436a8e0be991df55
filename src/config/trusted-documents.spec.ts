import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTrustedDocuments } from './trusted-documents';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'manifest-')), 'manifest.json');
  writeFileSync(path, content);
  return path;
}

function read(content: string) {
  const problems: string[] = [];
  const operations = readTrustedDocuments(file(content), (message) => problems.push(message));
  return { operations, problems };
}

describe('readTrustedDocuments', () => {
  const operation = { id: 'abc', body: '{ projects { total } }', name: 'Projects', type: 'query' };

  it("reads Apollo's persisted-query manifest", () => {
    const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations: [operation] };
    expect(read(JSON.stringify(manifest))).toEqual({ operations: [operation], problems: [] });
  });

  it('names what is wrong without echoing the file', () => {
    expect(read('not json').problems).toEqual(['cannot be read as JSON']);
    const wrong = {
      format: 'other',
      version: 1,
      operations: [{ ...operation, body: '' }, operation, operation],
    };
    const { problems } = read(JSON.stringify(wrong));
    expect(problems.some((p) => p.startsWith('[format]'))).toBe(true);
    expect(problems.some((p) => p.startsWith('[operations.0.body]'))).toBe(true);
    expect(
      read(
        JSON.stringify({
          ...wrong,
          format: 'apollo-persisted-query-manifest',
          operations: [operation, operation],
        }),
      ).problems,
    ).toEqual(['the id abc… is listed twice']);
  });
});
