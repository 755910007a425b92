/**
 * The demo's data, fixed so every `npm start` shows the same product: two customer tenants (Contoso and
 * Fabrikam), each with its own app registration (application permissions Mail.Read, User.Read.All,
 * MailboxSettings.Read), three user mailboxes and one shared mailbox with ≈3,650 generated messages over
 * Inbox, Sent Items and nested folders (threads and ~10% attachments come from the simulator's generator,
 * deterministic per `seed`). Only the app secrets are random (made by the simulator at each start).
 */
import type { MailboxSeed } from '../m365-simulator/contract';

export interface DemoMailbox {
  /** Short name shown in progress lines (`adele`, `support`). */
  alias: string;
  /** UPN and mail address. */
  address: string;
  displayName: string;
  kind: 'user' | 'shared';
  /** Folder path → generated message count. Every folder listed here is synced (the account's folder filter). */
  folders: Record<string, number>;
  seed: number;
}

export interface DemoTenant {
  /** The service principal name registered through the API (`POST /api/service-principals`). */
  servicePrincipalName: string;
  displayName: string;
  company: string;
  tenantId: string;
  domain: string;
  /** The tenant's app registration for mail sync (application permissions only). */
  app: { appId: string; displayName: string; roles: string[] };
  mailboxes: DemoMailbox[];
}

/** Application permissions the sync needs (what an admin grants with admin consent). */
export const DEMO_APP_ROLES = ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'];

/** Messages are spread from this date to now. */
export const DEMO_MAIL_SINCE = '2025-07-01T00:00:00Z';
/** Share of generated messages with attachments. */
export const DEMO_ATTACHMENT_RATE = 0.1;

export const DEMO_TENANTS: readonly DemoTenant[] = [
  {
    servicePrincipalName: 'Contoso',
    displayName: 'Contoso',
    company: 'Contoso Ltd.',
    tenantId: '6f1d4c2a-0c3e-4b7a-9d51-2c0000c0c001',
    domain: 'contoso.onmicrosoft.com',
    app: {
      appId: '0b8e3f6d-7a41-4c9e-8f20-2c0000c0a001',
      displayName: 'Contoso mail sync',
      roles: DEMO_APP_ROLES,
    },
    mailboxes: [
      {
        alias: 'adele',
        address: 'adele@contoso.onmicrosoft.com',
        displayName: 'Adele Vance',
        kind: 'user',
        folders: { Inbox: 800, 'Sent Items': 300, 'Inbox/Projects': 150, 'Archive/2024': 150 },
        seed: 1101,
      },
      {
        alias: 'megan',
        address: 'megan@contoso.onmicrosoft.com',
        displayName: 'Megan Bowen',
        kind: 'user',
        folders: { Inbox: 600, 'Sent Items': 200, 'Inbox/Finance': 100 },
        seed: 1102,
      },
      {
        alias: 'support',
        address: 'support@contoso.onmicrosoft.com',
        displayName: 'Contoso Support',
        kind: 'shared',
        folders: { Inbox: 600, 'Inbox/Escalations': 100 },
        seed: 1103,
      },
    ],
  },
  {
    servicePrincipalName: 'Fabrikam',
    displayName: 'Fabrikam',
    company: 'Fabrikam, Inc.',
    tenantId: '9a2e5b7c-1d4f-4e8a-b6c3-2c0000fab001',
    domain: 'fabrikam.onmicrosoft.com',
    app: {
      appId: '3c7f1a9e-5b2d-4f6c-a8e4-2c0000fab0a1',
      displayName: 'Fabrikam mail sync',
      roles: DEMO_APP_ROLES,
    },
    mailboxes: [
      {
        alias: 'diego',
        address: 'diego@fabrikam.onmicrosoft.com',
        displayName: 'Diego Siciliani',
        kind: 'user',
        folders: { Inbox: 500, 'Sent Items': 150 },
        seed: 1201,
      },
    ],
  },
];

/** The portal's System Manager: registers the tenants and the shared mailbox (and so owns its mail). */
export const DEMO_ADMIN = { username: 'admin@contoso.onmicrosoft.com', displayName: 'Portal Admin' } as const;
/** The user whose token `.local/demo.json` holds as `userToken`, and the other user (`otherUserToken`). */
export const DEMO_USER = 'adele@contoso.onmicrosoft.com';
export const DEMO_OTHER_USER = 'megan@contoso.onmicrosoft.com';

export function mailboxSeed(mailbox: DemoMailbox): MailboxSeed {
  return {
    seed: mailbox.seed,
    folders: mailbox.folders,
    attachmentRate: DEMO_ATTACHMENT_RATE,
    since: DEMO_MAIL_SINCE,
  };
}

/** Every demo mailbox with its tenant. */
export function demoMailboxes(): Array<{ tenant: DemoTenant; mailbox: DemoMailbox }> {
  return DEMO_TENANTS.flatMap((tenant) => tenant.mailboxes.map((mailbox) => ({ tenant, mailbox })));
}

/** Generated messages in the whole demo. */
export function demoMessageCount(): number {
  return demoMailboxes().reduce(
    (sum, { mailbox }) => sum + Object.values(mailbox.folders).reduce((a, b) => a + b, 0),
    0,
  );
}
