import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../src/config';

const root = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

/** Every variable a config namespace reads: the keys of its zod schema object. */
function variablesRead(): string[] {
  const dir = resolve(root, 'src', 'config');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.config.ts'))) {
    for (const match of readFileSync(resolve(dir, file), 'utf8').matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)) {
      names.add(match[1]);
    }
  }
  return [...names].sort();
}

/** `.env.example` as a map of variable → documented default. */
function envExample(): Map<string, string> {
  const entries = read('.env.example')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]+)=(.*)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2]] as const);
  return new Map(entries);
}

describe('configuration documentation', () => {
  const variables = variablesRead();

  it('finds the variables of every namespace', () => {
    expect(variables).toEqual(
      expect.arrayContaining(['PORT', 'MAIA_CLIENT_ID', 'REDIS_URL', 'WATCH_LEASE_MS']),
    );
  });

  it('documents every variable in .env.example and in the README configuration table', () => {
    const example = envExample();
    const readme = read('README.md');
    expect(variables.filter((v) => !example.has(v))).toEqual([]);
    expect(variables.filter((v) => !readme.includes(`| \`${v}\` |`))).toEqual([]);
  });

  it('documents nothing that is not read', () => {
    const read = new Set(variables);
    expect([...envExample().keys()].filter((v) => !read.has(v))).toEqual([]);
  });

  it('.env.example copied as it is starts a valid configuration (its defaults are the real ones)', () => {
    const example = Object.fromEntries(envExample());
    const fromExample = loadConfig(example);
    const fromNothing = loadConfig({});
    expect(fromExample).toEqual(fromNothing);
  });
});
