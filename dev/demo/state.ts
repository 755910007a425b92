/**
 * `.local/demo.json`: what the demo made, for scripts and tests (`npm run demo:deliver`, the e2e test).
 * The tokens are demo tokens signed by the local M365 simulator for the local API only; they stop working when
 * `npm start` stops (the simulator's signing keys live in memory).
 *
 * `DEMO_STATE_FILE=/some/file.json` writes (and reads) it elsewhere, so tests never clobber a developer's own.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface DemoAccount {
  accountName: string;
  emailAddress: string;
  kind: 'user' | 'shared';
  servicePrincipal: string;
  /** Who owns the account's communications (the user; for the shared mailbox, the admin who added it). */
  owner: string;
  folders: string[];
}

export interface DemoState {
  apiBaseUrl: string;
  simulatorUrl: string;
  adminUser: string;
  /** System Manager token (sees everything). */
  adminToken: string;
  userEmail: string;
  /** Token of `userEmail` (no app role: sees only the user's own communications). */
  userToken: string;
  otherUserEmail: string;
  otherUserToken: string;
  /** The demo user's account (where `demo:deliver` delivers). */
  userAccount: string;
  tokensExpireAt: string;
  syncSchedule: string;
  accounts: DemoAccount[];
  createdAt: string;
}

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'host.json'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/** Where the demo state lives: `DEMO_STATE_FILE`, else `<project>/.local/demo.json`. */
export function demoStatePath(env: Record<string, string | undefined> = process.env): string {
  const override = env['DEMO_STATE_FILE']?.trim();
  return override ? path.resolve(override) : path.join(projectRoot(__dirname), '.local', 'demo.json');
}

export function writeDemoState(file: string, state: DemoState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Holds (demo) tokens: readable by the owner only; `.local/` is git-ignored.
  fs.writeFileSync(file, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

export function readDemoState(file: string): DemoState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file} does not exist: run \`npm start\` first (it writes it when the demo is ready)`);
  }
  const state = JSON.parse(text) as Partial<DemoState>;
  for (const field of ['apiBaseUrl', 'simulatorUrl', 'userToken', 'userEmail', 'userAccount'] as const) {
    if (typeof state[field] !== 'string' || state[field] === '') {
      throw new Error(`${file} has no ${field}: run \`npm start\` again to write a fresh one`);
    }
  }
  return state as DemoState;
}
