import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * The repository documents itself: a clone has every file its docs, comments and links name. Nothing may
 * point at another machine's folders, and every relative Markdown link must resolve.
 */

const root = resolve(__dirname, '..', '..');
const trackedFiles = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((path) => path !== '' && path !== 'package-lock.json' && existsSync(resolve(root, path)));

// Built from pieces so that this file does not match itself.
const outsidePath = new RegExp(['(^|[^A-Za-z0-9_.])/(work|tmp/team)/', '\\.\\./' + 'shared/'].join('|'));

describe('links and references stay inside the repository', () => {
  it('no tracked file names a path outside the repository', () => {
    const offenders: string[] = [];
    for (const path of trackedFiles) {
      const lines = readFileSync(resolve(root, path), 'utf8').split('\n');
      lines.forEach((line, index) => {
        if (outsidePath.test(line)) offenders.push(`${path}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('every relative Markdown link resolves to a file of the repository', () => {
    const broken: string[] = [];
    for (const path of trackedFiles.filter((file) => file.endsWith('.md'))) {
      const text = readFileSync(resolve(root, path), 'utf8');
      for (const match of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const target = match[1].split('#')[0];
        if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // an anchor or a URL
        if (!existsSync(resolve(dirname(resolve(root, path)), target))) broken.push(`${path}: ${match[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
