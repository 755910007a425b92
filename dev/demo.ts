/**
 * The demo `npm start` runs (unless `--no-demo`): the whole product on two demo tenants, with no Azure access.
 *
 *  1. seeds the M365 simulator as a tenant admin would set things up: tenants Contoso and Fabrikam, each with
 *     its own app registration (secret; Mail.Read, User.Read.All, MailboxSettings.Read), three user mailboxes
 *     and one shared mailbox with ≈3,650 generated messages (`dev/demo/seed.ts`);
 *  2. signs in the portal's System Manager and each user (simulator-issued API tokens);
 *  3. registers both service principals (admin), each user's own mailbox (`enable-sync` with the user's token)
 *     and the shared mailbox (admin) **through the public HTTP API**, then asks for a sync (`POST /api/sync`);
 *  4. shows a progress line per mailbox until every mailbox is synced, then a summary table;
 *  5. prints the API base URL, tokens and curl examples, writes `.local/demo.json` (or `DEMO_STATE_FILE`) and
 *     prints `DEMO READY in N.N s` (seconds since the process started).
 *
 * Everything it calls is the real code path: the same function handlers, queue trigger, Cosmos container
 * layout, blobs and Graph / Entra ID protocol as in Azure, with local stand-ins underneath.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostLogLevel, HostLogSink } from './functions-host/log';
import { ApiClient, SimulatorControl, type AccountSyncStatus, type EmailAccountInfo } from './demo/clients';
import { ProgressRenderer, ProgressTracker, formatCount, formatSeconds, type MailboxProgress } from './demo/progress';
import {
  DEMO_ADMIN,
  DEMO_OTHER_USER,
  DEMO_TENANTS,
  DEMO_USER,
  demoMailboxes,
  demoMessageCount,
  mailboxSeed,
} from './demo/seed';
import { demoStatePath, writeDemoState, type DemoAccount, type DemoState } from './demo/state';
import { formatSummaryTable, type SummaryRow } from './demo/summary';

export interface DemoContext {
  /** e.g. `http://127.0.0.1:7071/api` */
  apiUrl: string;
  simulatorUrl: string | undefined;
  /** The app settings the functions host runs with (API_AUTH_*, SYNC_SCHEDULE...). */
  settings: Record<string, string>;
  /** Sends the functions host's log lines elsewhere while progress is drawn (undefined: back to the console). */
  setHostLogSink?: (sink: HostLogSink | undefined) => void;
}

export interface DemoOptions {
  write?: (text: string) => void;
  /** Redraw progress in place (default: stdout is a terminal and `CI` is not set). */
  tty?: boolean;
  /** Default: `DEMO_STATE_FILE` or `.local/demo.json`. */
  stateFile?: string;
  /** Give up waiting for the sync after this long (default 5 minutes). */
  timeoutMs?: number;
}

export interface DemoResult {
  ok: boolean;
  /** Seconds from process start until every mailbox was synced. */
  syncedAtSeconds?: number;
  state?: DemoState;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const secondsSinceProcessStart = (): number => performance.now() / 1000;

/** The tenant whose tokens the API trusts, when that is the local simulator (else the demo cannot sign users in). */
export function localIssuerTenant(
  settings: Record<string, string>,
  simulatorUrl: string | undefined,
): string | undefined {
  if (!simulatorUrl) return undefined;
  for (const issuer of (settings['API_AUTH_ISSUERS'] ?? '').split(',').map((s) => s.trim())) {
    const match = /^(.*)\/([^/]+)\/v2\.0$/.exec(issuer);
    if (match && match[1] === simulatorUrl) return match[2];
  }
  return undefined;
}

/** Which kind of account each demo mailbox is, and who owns its communications. */
function ownerOf(kind: 'user' | 'shared', address: string): string {
  return kind === 'shared' ? DEMO_ADMIN.username : address;
}

export async function runDemo(context: DemoContext, options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const say = (text = ''): void => write(text + '\n');
  const tty = options.tty ?? (Boolean(process.stdout.isTTY) && !process.env['CI']);
  const stateFile = options.stateFile ?? demoStatePath();
  const hostLogFile = path.join(path.dirname(stateFile), 'demo-functions.log');
  // A state file from an earlier run holds dead tokens: scripts must never pick it up.
  fs.rmSync(stateFile, { force: true });
  const issuerTenant = localIssuerTenant(context.settings, context.simulatorUrl);
  if (!context.simulatorUrl || !issuerTenant) {
    say(
      '\nDemo: skipped — it needs the embedded M365 simulator and API tokens it signs ' +
        '(KEY_VAULT_URL / API_AUTH_* point elsewhere). Run `npm start -- --no-demo` to silence this.',
    );
    return { ok: false };
  }
  const simulatorUrl = context.simulatorUrl;
  const sim = new SimulatorControl(simulatorUrl);
  const api = new ApiClient(context.apiUrl);
  const audience = context.settings['API_AUTH_AUDIENCE'] ?? '';
  const syncSchedule = context.settings['SYNC_SCHEDULE'] ?? '';
  const step = (n: number, text: string): void => say(`  [${n}/5] ${text}`);
  const mailboxes = demoMailboxes();

  say(
    `\nDemo: ${DEMO_TENANTS.length} tenants, ${mailboxes.length} mailboxes, ${formatCount(demoMessageCount())} messages ` +
      `(run with --no-demo to skip)`,
  );
  let stage = 'seeding the M365 simulator';
  // The functions host's lines go to a file while the demo talks (its warnings and errors are summed up below).
  const hostLog = new HostLog(hostLogFile);
  context.setHostLogSink?.(hostLog.sink);
  const restoreHostLog = (): { count: number; last: string[] } => {
    context.setHostLogSink?.(undefined);
    return hostLog.close();
  };
  const reportHostProblems = (problems: { count: number; last: string[] }): void => {
    if (problems.count === 0) return;
    say(`\n  The functions host logged ${problems.count} warning(s)/error(s) (${relative(hostLogFile)}); the last:`);
    for (const line of problems.last) say(`    ${line}`);
  };
  try {
    // 1. What a tenant admin does in Entra ID / Exchange: tenants, app registrations, mailboxes.
    let t0 = performance.now();
    const apps = new Map<string, { appId: string; secret: string }>();
    await Promise.all(
      DEMO_TENANTS.map(async (tenant) => {
        await sim.createTenant({ id: tenant.tenantId, displayName: tenant.displayName, domain: tenant.domain });
        const [app] = await Promise.all([
          sim.createApp(tenant.tenantId, tenant.app),
          ...tenant.mailboxes.map((m) =>
            sim.createUser(tenant.tenantId, {
              userPrincipalName: m.address,
              displayName: m.displayName,
              userPurpose: m.kind,
              mailbox: mailboxSeed(m),
            }),
          ),
        ]);
        const secret = app.secrets[0]?.value;
        if (!secret) throw new Error(`the simulator made no secret for ${tenant.app.displayName}`);
        apps.set(tenant.servicePrincipalName, { appId: app.appId, secret });
      }),
    );
    step(
      1,
      `M365 simulator: ${DEMO_TENANTS.map(
        (t) => `${t.displayName} (app "${t.app.displayName}", ${t.mailboxes.map((m) => m.alias).join(', ')})`,
      ).join('; ')} ${elapsed(t0)}`,
    );

    // 2. Sign-in (the portal gets Entra ID tokens for its users; here the simulator signs them).
    stage = 'signing users in';
    t0 = performance.now();
    const tokenFor = (username: string, roles: string[] = []): Promise<string> =>
      sim.userToken(issuerTenant, { audience, username, roles });
    const adminToken = await tokenFor(DEMO_ADMIN.username, ['SystemManager']);
    const userTokens = new Map<string, string>();
    await Promise.all(
      mailboxes
        .filter(({ mailbox }) => mailbox.kind === 'user')
        .map(async ({ mailbox }) => userTokens.set(mailbox.address, await tokenFor(mailbox.address))),
    );
    step(2, `Signed in ${DEMO_ADMIN.username} (SystemManager) and ${userTokens.size} users ${elapsed(t0)}`);

    // 3. What the portal does through the public API.
    stage = 'registering tenants and mailboxes through the API';
    t0 = performance.now();
    await Promise.all(
      DEMO_TENANTS.map((tenant) => {
        const app = apps.get(tenant.servicePrincipalName)!;
        return api.registerServicePrincipal(adminToken, {
          servicePrincipalName: tenant.servicePrincipalName,
          tenantId: tenant.tenantId,
          tenantName: tenant.displayName,
          clientId: app.appId,
          clientSecret: app.secret,
          authorityUrl: `${simulatorUrl}/${tenant.tenantId}`,
          graphApiEndpoint: `${simulatorUrl}/v1.0`,
          company: tenant.company,
          description: `Demo tenant (M365 simulator): ${tenant.domain}`,
        });
      }),
    );
    const accounts: DemoAccount[] = await Promise.all(
      mailboxes.map(async ({ tenant, mailbox }) => {
        const folderFilter = Object.keys(mailbox.folders).map((folderName) => ({ folderName }));
        const body = { servicePrincipal: tenant.servicePrincipalName, folderFilter };
        const account: EmailAccountInfo =
          mailbox.kind === 'shared'
            ? await api.addSharedMailbox(adminToken, { ...body, emailAddress: mailbox.address })
            : await api.enableSync(userTokens.get(mailbox.address)!, body);
        return {
          accountName: account.accountName,
          emailAddress: mailbox.address,
          kind: mailbox.kind,
          servicePrincipal: tenant.servicePrincipalName,
          owner: ownerOf(mailbox.kind, mailbox.address),
          folders: Object.keys(mailbox.folders),
        };
      }),
    );
    step(
      3,
      `API: POST /api/service-principals ×${DEMO_TENANTS.length}, /api/email-accounts/enable-sync ×${userTokens.size}, ` +
        `/api/shared-mailboxes ×${accounts.length - userTokens.size} ${elapsed(t0)}`,
    );

    // 4. Sync now: every user (and the admin, for the shared mailbox) asks for their own accounts.
    stage = 'requesting a sync';
    t0 = performance.now();
    const requested = await Promise.all(
      [adminToken, ...userTokens.values()].map((token) => api.syncOwnAccounts(token)),
    );
    const queued = requested.reduce((sum, r) => sum + r.queued, 0);
    step(4, `API: POST /api/sync → ${queued} mailbox sync(s) queued (queue trigger sync-mailbox) ${elapsed(t0)}`);

    // 5. Progress until every mailbox is synced. The host's log lines go to a file meanwhile.
    stage = 'syncing';
    step(5, `Syncing (the functions host logs to ${relative(hostLogFile)} meanwhile)`);
    const tracker = new ProgressTracker(
      accounts.map((a) => {
        const mailbox = mailboxes.find((m) => m.mailbox.address === a.emailAddress)!.mailbox;
        return {
          accountName: a.accountName,
          label: a.emailAddress,
          plannedTotal: Object.values(mailbox.folders).reduce((x, y) => x + y, 0),
          plannedFolders: a.folders.length,
        };
      }),
    );
    const renderer = new ProgressRenderer({ tty, write });
    const deadline = performance.now() + (options.timeoutMs ?? 5 * 60_000);
    let progress: MailboxProgress[] = tracker.snapshot();
    renderer.render(progress);
    while (!tracker.allFinished() && performance.now() < deadline) {
      await sleep(tty ? 500 : 1000);
      let statuses: AccountSyncStatus[];
      try {
        statuses = await api.syncStatus(adminToken);
      } catch (error) {
        hostLog.note(`demo: GET /api/sync-status failed: ${message(error)}`);
        continue;
      }
      progress = tracker.update(statuses);
      renderer.render(progress);
    }
    renderer.render(progress, true);
    const syncedAtSeconds = secondsSinceProcessStart();

    const failed = progress.filter((p) => p.state !== 'done');
    if (failed.length > 0) {
      reportHostProblems(restoreHostLog());
      say('');
      for (const p of failed) {
        say(`  ${p.label}: ${p.state === 'failed' ? 'failed' : 'not finished'} — ${p.status ?? ''} ${p.error ?? ''}`);
      }
      say(
        `\nDEMO FAILED: ${failed.length} of ${progress.length} mailbox(es) did not sync ` +
          `(after ${formatSeconds(syncedAtSeconds)}; see ${relative(hostLogFile)}). The API keeps running.`,
      );
      return { ok: false };
    }
    say(`\n  All ${progress.length} mailboxes synced ${formatSeconds(syncedAtSeconds)} after start.\n`);

    // Summary: what the API now serves per account.
    stage = 'reading the synced communications';
    const rows: SummaryRow[] = await Promise.all(
      accounts.map(async (account) => {
        const p = progress.find((x) => x.accountName === account.accountName)!;
        const items = await api.communications(adminToken, { emailAccount: account.accountName });
        const live = items.filter((c) => !c.removedInM365);
        return {
          mailbox: account.emailAddress,
          kind: account.kind,
          folders: account.folders.length,
          messages: live.length,
          attachments: live.reduce((sum, c) => sum + c.attachments.length, 0),
          ...(p.durationSeconds !== undefined ? { durationSeconds: p.durationSeconds } : {}),
          status: p.status ?? '',
        };
      }),
    );
    say(formatSummaryTable(rows));
    reportHostProblems(restoreHostLog());

    const userAccount = accounts.find((a) => a.emailAddress === DEMO_USER)!;
    const state: DemoState = {
      apiBaseUrl: context.apiUrl,
      simulatorUrl,
      adminUser: DEMO_ADMIN.username,
      adminToken,
      userEmail: DEMO_USER,
      userToken: userTokens.get(DEMO_USER)!,
      otherUserEmail: DEMO_OTHER_USER,
      otherUserToken: userTokens.get(DEMO_OTHER_USER)!,
      userAccount: userAccount.accountName,
      tokensExpireAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
      syncSchedule,
      accounts,
      createdAt: new Date().toISOString(),
    };
    writeDemoState(stateFile, state);
    say(usage(state, stateFile));
    say(
      `DEMO READY in ${secondsSinceProcessStart().toFixed(1)} s (all mailboxes synced at ${syncedAtSeconds.toFixed(1)} s)`,
    );
    return { ok: true, syncedAtSeconds, state };
  } catch (error) {
    reportHostProblems(restoreHostLog());
    say(`\nDEMO FAILED while ${stage}: ${message(error)}`);
    say('The API keeps running; `npm start -- --no-demo` skips the demo.');
    return { ok: false };
  }
}

function usage(state: DemoState, stateFile: string): string {
  const api = state.apiBaseUrl;
  const account = encodeURIComponent(state.userAccount);
  return [
    '',
    `API:  ${api}   (OpenAPI: ${api}/openapi.json)`,
    '',
    'Demo tokens (signed by the local M365 simulator; valid for this run of `npm start` only):',
    `  export API=${api}`,
    `  export ADMIN_TOKEN=${state.adminToken}`,
    `  export USER_TOKEN=${state.userToken}`,
    `  # ADMIN_TOKEN: ${state.adminUser} (SystemManager: sees everything)`,
    `  # USER_TOKEN:  ${state.userEmail} (no app role: sees only her own mail)`,
    '',
    'Try:',
    '  # her communications, newest first',
    '  curl -s -H "Authorization: Bearer $USER_TOKEN" "$API/communications?limit=5"',
    '  # sync status of her mailbox, per folder',
    `  curl -s -H "Authorization: Bearer $USER_TOKEN" "$API/email-accounts/${account}/sync-status"`,
    '  # sync all her mailboxes now',
    '  curl -s -X POST -H "Authorization: Bearer $USER_TOKEN" "$API/sync"',
    '',
    `New mail: \`npm run demo:deliver\` delivers 5 messages to ${state.userEmail}'s Inbox; the schedule-mailbox-sync`,
    `timer (SYNC_SCHEDULE "${state.syncSchedule}") picks them up, or add \`-- --sync-now\`.`,
    `Tokens, accounts and URLs for scripts: ${relative(stateFile)}`,
    '',
  ].join('\n');
}

/** Collects the functions host's lines in a file while the demo draws progress; remembers warnings and errors. */
class HostLog {
  private readonly fd: number;
  private problems = 0;
  private readonly lastProblems: string[] = [];
  private open = true;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'w', 0o600);
  }

  readonly sink: HostLogSink = (line: string, level: HostLogLevel) => {
    if (level === 'warn' || level === 'error') {
      this.problems++;
      this.lastProblems.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (this.lastProblems.length > 5) this.lastProblems.shift();
    }
    this.note(line);
  };

  note(line: string): void {
    if (this.open) fs.writeSync(this.fd, line + '\n');
  }

  close(): { count: number; last: string[] } {
    if (this.open) {
      this.open = false;
      fs.closeSync(this.fd);
    }
    return { count: this.problems, last: [...this.lastProblems] };
  }
}

function elapsed(startedAt: number): string {
  return `(${formatSeconds((performance.now() - startedAt) / 1000)})`;
}

function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
