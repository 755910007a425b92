#!/usr/bin/env node
// Completes package-lock.json with the optional, platform-specific packages that the npm registry mirror of
// these machines does not serve (e.g. @swc/core-darwin-arm64: 404 here). npm then leaves them out of the lock,
// and `npm ci` refuses that lock ("Missing: ... from lock file"). Each missing optional dependency gets an
// entry with its version and the os/cpu/libc read from its name, so `npm ci` validates the lock and skips the
// package on this platform, exactly as it does with a lock written against the full registry.
//
// Run after any `npm install` that changes package-lock.json:  node dev/scripts/complete-lockfile.js
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(__dirname, '..', '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = [
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'android',
  'openbsd',
  'netbsd',
  'sunos',
  'aix',
  'openharmony',
  'wasm32',
];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];

/** os / cpu / libc from a platform package name such as `core-linux-x64-musl` or `binding-win32-arm64-msvc`. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu =
    parts.find((p) => CPU.includes(p)) ?? (parts.includes('eabi') || parts.includes('gnueabihf') ? 'arm' : undefined);
  const libc =
    parts.includes('musl') || parts.includes('musleabihf')
      ? 'musl'
      : parts.includes('gnu') || parts.includes('gnueabihf')
        ? 'glibc'
        : undefined;
  return { os, cpu, libc };
}

/** Where npm would place `dep` required by the package at `from` (node_modules lookup from there upwards). */
function resolvePlace(from, dep) {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${dep}`;
    if (packages[candidate]) return { found: candidate };
    if (!dir) return { missingAt: `node_modules/${dep}` };
    const idx = dir.lastIndexOf('/node_modules/');
    dir = idx < 0 ? '' : dir.slice(0, idx);
  }
}

let added = 0;
for (const [from, entry] of Object.entries(packages)) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const place = resolvePlace(from, dep);
    if (place.found) continue;
    const { os, cpu, libc } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform package: leave it to npm
    const version = String(spec).replace(/^[=^~v]/, '');
    if (!/^\d+\.\d+\.\d+/.test(version)) continue;
    packages[place.missingAt] = {
      version,
      ...(cpu ? { cpu: [cpu] } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(libc ? { libc: [libc] } : {}),
    };
    added++;
  }
}

if (added > 0) {
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
  );
  fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`complete-lockfile: ${added} optional platform package(s) added`);
