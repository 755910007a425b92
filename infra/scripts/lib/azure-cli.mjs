// Small helpers shared by the app registration scripts: run the Azure CLI, print progress to stderr.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Microsoft Graph's application id (the same in every cloud). */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export class CliError extends Error {}

/** Progress and hints go to stderr, so stdout carries only the result (a JSON body) when asked. */
export function say(line = '') {
  process.stderr.write(`${line}\n`);
}

/**
 * Runs `az <args> --output json` and returns the parsed JSON (or undefined for an empty answer).
 * Arguments are passed without a shell (no quoting issues), except on Windows where `az` is a .cmd file.
 */
export function az(args, { json = true } = {}) {
  const fullArgs = json ? [...args, '--output', 'json'] : args;
  const windows = process.platform === 'win32';
  const result = spawnSync(windows ? 'az.cmd' : 'az', fullArgs, {
    encoding: 'utf8',
    shell: windows,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) {
    throw new CliError(`could not run the Azure CLI (az): ${result.error.message}. Install it and run "az login".`);
  }
  if (result.status !== 0) {
    // Never echo the arguments: some carry secrets in files only, but keep the habit.
    throw new CliError(`az ${args.slice(0, 3).join(' ')} failed: ${(result.stderr || '').trim()}`);
  }
  const text = (result.stdout || '').trim();
  if (!json || text === '') return text === '' ? undefined : text;
  return JSON.parse(text);
}

/** Writes `content` to a private temporary file for `az ... @file`, runs `use(path)`, then deletes it. */
export function withTempJson(content, use) {
  const dir = mkdtempSync(path.join(tmpdir(), 'm365-mail-sync-'));
  const file = path.join(dir, 'body.json');
  try {
    writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The signed-in account (tenant and user); fails with a hint when `az login` is needed. */
export function currentAccount() {
  try {
    return az(['account', 'show']);
  } catch (error) {
    throw new CliError(`not signed in to the Azure CLI: run "az login --tenant <tenant id>" first (${error.message})`);
  }
}

/** The login and Graph endpoints of the CLI's current cloud, without trailing slashes. */
export function cloudEndpoints() {
  const cloud = az(['cloud', 'show']);
  const trim = (url) => String(url).replace(/\/+$/, '');
  return {
    name: cloud.name,
    login: trim(cloud.endpoints.activeDirectory),
    graph: trim(cloud.endpoints.microsoftGraphResourceId ?? 'https://graph.microsoft.com'),
  };
}

/** Runs a script's main function and turns a CliError into a one-line message and exit code 1. */
export function run(main) {
  try {
    main();
  } catch (error) {
    if (error instanceof CliError) {
      say(`error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
