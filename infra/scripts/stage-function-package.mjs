#!/usr/bin/env node
// Stages the deployable function app into one folder (azd zips and deploys it; see azure.yaml):
//   dist/functions and dist/shared (compiled JavaScript; never dist/dev or dist/test), host.json, package.json,
//   package-lock.json, and the production dependencies only, copied from node_modules as package-lock.json
//   lists them.
// Dev tooling (TypeScript, Jest, Azurite, ...) stays out of the package, which keeps cold starts short.
//
//   npm run build && node infra/scripts/stage-function-package.mjs [--root <repo>] [--out <folder>]
//
// Then, without azd: cd .local/azd-package && zip -r ../app.zip . && az functionapp deployment source
// config-zip -g <resource group> -n <function app> --src ../app.zip
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    out: { type: 'string' },
  },
});
const root = path.resolve(values.root ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..'));
const out = path.resolve(values.out ?? path.join(root, '.local', 'azd-package'));

function fail(message) {
  process.stderr.write(`stage-function-package: ${message}\n`);
  process.exit(1);
}

const functionsDir = path.join(root, 'dist', 'functions');
if (!existsSync(functionsDir) || !readdirSync(functionsDir).some((f) => f.endsWith('.js'))) {
  fail(`no compiled functions in ${functionsDir}: run "npm run build" first`);
}
for (const file of ['host.json', 'package.json', 'package-lock.json']) {
  if (!existsSync(path.join(root, file))) fail(`${file} is missing in ${root}`);
}
if (out === root || root.startsWith(out + path.sep)) fail(`refusing to stage into ${out}`);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const file of ['host.json', 'package.json', 'package-lock.json']) {
  cpSync(path.join(root, file), path.join(out, file));
}

// Compiled code: the functions (package.json "main") and what they load, JavaScript and JSON only. Anything
// else in dist/ (local tooling in dist/dev, tests in dist/test) never ships.
for (const dir of ['functions', 'shared']) {
  const from = path.join(root, 'dist', dir);
  if (!existsSync(from)) continue;
  cpSync(from, path.join(out, 'dist', dir), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || src.endsWith('.js') || src.endsWith('.json'),
  });
}

// Production dependencies: every package-lock entry that is not dev-only, each copied without its nested
// node_modules (nested packages are entries of their own and are copied, or not, on their own merits).
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
if (!lock.packages) fail('package-lock.json has no "packages" map (lockfileVersion 2 or later is needed)');
let copied = 0;
for (const [key, meta] of Object.entries(lock.packages)) {
  if (key === '' || !key.startsWith('node_modules/')) continue;
  if (meta.dev || meta.devOptional || meta.link) continue;
  const src = path.join(root, key);
  if (!existsSync(src)) {
    if (meta.optional) continue; // an optional dependency for another platform
    fail(`production dependency ${key} is not installed: run "npm ci" first`);
  }
  const nested = path.join(src, 'node_modules');
  cpSync(src, path.join(out, key), {
    recursive: true,
    filter: (file) => file !== nested && !file.startsWith(nested + path.sep),
  });
  copied += 1;
}

// azd applies a .funcignore found in the packaged folder: this one ignores nothing that was staged.
writeFileSync(path.join(out, '.funcignore'), '# Staged by infra/scripts/stage-function-package.mjs\n');

function sizeOf(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? sizeOf(full) : statSync(full).size;
  }
  return total;
}
process.stdout.write(
  `Staged ${path.relative(root, out) || out}: ${copied} production packages, ` +
    `${(sizeOf(out) / 1024 / 1024).toFixed(1)} MB\n`,
);
