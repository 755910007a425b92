#!/usr/bin/env node
// Fast build for `npm start`: transpiles functions/, shared/ and dev/ (what tsconfig.build.json compiles) to
// CommonJS in dist/ with @swc/core — the same transform jest runs the code through — in well under a second,
// where `tsc` spends 10–30 s type-checking on these machines. Type errors are reported by `npm test`
// (`tsc --noEmit`); deployments and `start:func` keep using `npm run build` (tsc).
// Skips files whose output is newer than the source, and removes dist/functions/*.js whose source is gone
// (the functions host and Azure load every dist/functions/*.js).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..', '..');
const outDir = path.join(root, 'dist');
const sourceDirs = ['functions', 'shared', 'dev'];
const startedAt = Date.now();

function writeAtomically(file, text) {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, file);
}

function sources(dir) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [rel] : [];
  });
}

let transpiled = 0;
let upToDate = 0;
for (const rel of sourceDirs.flatMap(sources)) {
  const src = path.join(root, rel);
  const out = path.join(outDir, rel.replace(/\.ts$/, '.js'));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) {
    upToDate++;
    continue;
  }
  const { code, map } = swc.transformFileSync(src, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: true,
    sourceFileName: path.relative(path.dirname(out), src),
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Write-then-rename: a process loading dist/ while another transpile runs (parallel tests) never reads half a file.
  writeAtomically(out, `${code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
  if (map) writeAtomically(`${out}.map`, map);
  transpiled++;
}

let removed = 0;
const functionsOut = path.join(outDir, 'functions');
if (fs.existsSync(functionsOut)) {
  for (const file of fs.readdirSync(functionsOut)) {
    const match = /^(.*)\.js(\.map)?$/.exec(file);
    if (match && !fs.existsSync(path.join(root, 'functions', `${match[1]}.ts`))) {
      fs.rmSync(path.join(functionsOut, file));
      if (!match[2]) removed++;
    }
  }
}

process.stdout.write(
  `transpiled ${transpiled} file(s) to dist/ in ${Date.now() - startedAt} ms` +
    `${upToDate ? ` (${upToDate} up to date)` : ''}${removed ? `, removed ${removed} stale function(s)` : ''}\n`,
);
