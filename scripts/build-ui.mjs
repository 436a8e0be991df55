// Bundles the browser pages the gateway serves (one esbuild run, inside `npm run build`) into dist/ui/<app>/:
// <app>.js, <app>.css and index.html, each with a .gz twin. The gateway serves these files as they are: nothing is bundled at start,
// nothing is fetched from another origin. A second page (e.g. the run console) is one more entry in `apps`.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outRoot = join(root, 'dist', 'ui');
/** Where the gateway serves an app's files (src/ui/ui-pages.ts serves /ui/<app>/<file>). */
const assetBase = (app) => `/ui/${app}`;

/** Each page: its entry and its title. */
const apps = {
  explorer: { entry: 'ui/explorer/explorer.tsx', title: 'maia-gateway GraphQL explorer' },
  console: { entry: 'ui/console/console.ts', title: 'maia-gateway console' },
};

function indexHtml(app, title) {
  // No inline script or style: the page is served under a strict Content-Security-Policy.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${assetBase(app)}/${app}.css">
<script defer src="${assetBase(app)}/${app}.js"></script>
</head>
<body><div id="${app}"></div></body>
</html>
`;
}

/** Newest modification time (ms) of the files under `path` (a file or a folder), 0 when it does not exist. */
async function newestMtimeMs(path) {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  const entries = await readdir(path, { withFileTypes: true });
  const times = await Promise.all(entries.map((entry) => newestMtimeMs(join(path, entry.name))));
  return Math.max(info.mtimeMs, ...times);
}

// `npm start` builds first: when every page's output is newer than the page sources, this script and the
// lockfile (a dependency update), it is left as it is. `--force` rebuilds anyway.
const force = process.argv.includes('--force');
const sourcesMtimeMs = Math.max(
  ...(await Promise.all(
    [join(root, 'ui'), fileURLToPath(import.meta.url), join(root, 'package-lock.json')].map(newestMtimeMs),
  )),
);
const stale = [];
for (const app of Object.keys(apps)) {
  const builtMtimeMs = (await stat(join(outRoot, app, 'index.html.gz')).catch(() => undefined))?.mtimeMs ?? 0;
  if (force || builtMtimeMs <= sourcesMtimeMs) stale.push(app);
}
if (stale.length === 0) {
  console.log(`ui: ${Object.keys(apps).join(', ')} up to date`);
  process.exit(0);
}

const started = performance.now();
await Promise.all(
  Object.entries(apps)
    .filter(([app]) => stale.includes(app))
    .map(async ([app, { entry, title }]) => {
      const outdir = join(outRoot, app);
      await rm(outdir, { recursive: true, force: true });
      await mkdir(outdir, { recursive: true });
      await build({
        entryPoints: { [app]: join(root, entry) },
        outdir,
        bundle: true,
        minify: true,
        format: 'iife',
        platform: 'browser',
        target: 'es2022',
        jsx: 'automatic',
        define: { 'process.env.NODE_ENV': '"production"' },
        // Fonts and images stay inside the CSS (GraphiQL's fonts already are): no request to a font service.
        loader: { '.woff2': 'dataurl', '.woff': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl' },
        legalComments: 'none',
        logLevel: 'warning',
      });
      await writeFile(join(outdir, 'index.html'), indexHtml(app, title));
      // A gzip twin of each file, written once here, so the gateway answers compressed without work per request.
      for (const file of await readdir(outdir)) {
        const body = await readFile(join(outdir, file));
        await writeFile(join(outdir, `${file}.gz`), gzipSync(body, { level: 9 }));
      }
    }),
);
console.log(`ui: ${stale.join(', ')} built in ${Math.round(performance.now() - started)} ms`);
