/**
 * The bad-input table: each kind of bad input sent to every write route (as a System Manager, so only the
 * input is at fault), asserting the status, the problem `code`, and that the store is unchanged.
 */
import type { DefinedRoute } from '../../shared/http/route';
import { MAX_BODY_BYTES } from '../../shared/http/route';
import { communicationUpdate } from '../../functions/communication-update';
import { emailAccountDelete } from '../../functions/email-account-delete';
import { emailAccountFoldersSet } from '../../functions/email-account-folders-set';
import { emailAccountUpdate } from '../../functions/email-account-update';
import { emailAccountsEnableSync } from '../../functions/email-accounts-enable-sync';
import { sharedMailboxCreate } from '../../functions/shared-mailbox-create';
import { emailAccountSync } from '../../functions/email-account-sync';
import { servicePrincipalCreate } from '../../functions/service-principal-create';
import { servicePrincipalDelete } from '../../functions/service-principal-delete';
import { servicePrincipalTest } from '../../functions/service-principal-test';
import { servicePrincipalUpdate } from '../../functions/service-principal-update';
import { syncOwnAccounts } from '../../functions/sync-own-accounts';
import type { ApiWorldExtras } from './api-world-extras';
import { invokeRoute, type InvokeRequest } from '../support/openapi-contract';
import { ALICE_ACCOUNT, ALICE_MAIL, useApiWorld, type ApiWorld } from './api-fixture';
import { communicationAttachmentGet } from '../../functions/communication-attachment-get';
import { communicationGet } from '../../functions/communication-get';
import { emailAccountFoldersList } from '../../functions/email-account-folders-list';
import { SEEDED_ATTACHMENT_BYTES, installSyncApiFakes, uninstallSyncApiFakes } from './sync-api-fixture';

interface WriteRoute {
  route: DefinedRoute;
  /** Valid path params (the param under attack is the first one). */
  params?: Record<string, string>;
  /** A valid body (bad-body cases spoil it). */
  body?: Record<string, unknown>;
  /** A body field holding an email address, and one holding a date. */
  emailField?: string;
  dateField?: string;
  /** A field that must be a boolean or an object. */
  typedField: string;
}

const WRITE_ROUTES: WriteRoute[] = [
  {
    route: emailAccountUpdate,
    params: { name: ALICE_ACCOUNT },
    body: { enabled: false, syncFromDate: '2025-02-01' },
    dateField: 'syncFromDate',
    typedField: 'enabled',
  },
  {
    route: emailAccountFoldersSet,
    params: { name: ALICE_ACCOUNT },
    body: { folderFilter: [{ folderName: 'Inbox', syncEnabled: true }] },
    typedField: 'folderFilter',
  },
  { route: emailAccountDelete, params: { name: ALICE_ACCOUNT }, typedField: '' },
  {
    route: emailAccountsEnableSync,
    body: { servicePrincipal: 'Contoso', syncFromDate: '2025-02-01' },
    emailField: 'emailAddress',
    dateField: 'syncFromDate',
    typedField: 'syncAttachments',
  },
  {
    route: sharedMailboxCreate,
    body: { servicePrincipal: 'Contoso', emailAddress: 'sales@contoso.test', syncFromDate: '2025-02-01' },
    emailField: 'emailAddress',
    dateField: 'syncFromDate',
    typedField: 'autoCreateContact',
  },
  {
    route: communicationUpdate,
    params: { id: ALICE_MAIL },
    body: { referenceDoctype: 'Support Ticket', referenceName: 'TICKET-1' },
    typedField: 'referenceDoctype',
  },
  {
    route: servicePrincipalCreate,
    body: {
      servicePrincipalName: 'Northwind',
      tenantId: '9e7a1d2b-0000-4000-8000-00000000beef',
      clientId: '9e7a1d2b-0000-4000-8000-00000000cafe',
      clientSecret: 'bad-input-table-secret',
      clientSecretExpiresAt: '2027-01-01T00:00:00Z',
    },
    dateField: 'clientSecretExpiresAt',
    typedField: 'enabled',
  },
  {
    route: servicePrincipalUpdate,
    params: { name: 'Contoso' },
    body: { description: 'Main tenant', clientSecretExpiresAt: '2027-01-01T00:00:00Z' },
    dateField: 'clientSecretExpiresAt',
    typedField: 'enabled',
  },
  { route: servicePrincipalDelete, params: { name: 'Fabrikam' }, typedField: '' },
  { route: servicePrincipalTest, params: { name: 'Contoso' }, typedField: '' },
  { route: emailAccountSync, params: { name: ALICE_ACCOUNT }, typedField: '' },
  { route: syncOwnAccounts, typedField: '' },
];

interface BadInput {
  kind: string;
  build(route: WriteRoute): InvokeRequest | undefined;
  status: number;
  code: string;
}

const json = { 'content-type': 'application/json' };
const BAD_NAMES = [
  '../etc/passwd',
  '%2e%2e%2f',
  '..',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  'a\u0000b',
  'tab\there',
  'x/y',
];

const BAD_INPUTS: BadInput[] = [
  {
    kind: 'malformed JSON',
    build: (r) => (r.body ? { rawBody: '{"enabled": tru', headers: json } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'a JSON string instead of an object',
    build: (r) => (r.body ? { rawBody: '"hello"', headers: json } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'a wrong type',
    build: (r) => (r.body ? { body: { ...r.body, [r.typedField]: 42 } } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'an unknown field',
    build: (r) => (r.body ? { body: { ...r.body, user: 'mallory@evil.test' } } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'an injection string in a field',
    build: (r) => (r.body ? { body: { ...r.body, [r.typedField]: "<script>alert(1)</script>' OR 1=1" } } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'an invalid email',
    build: (r) => (r.body && r.emailField ? { body: { ...r.body, [r.emailField]: 'not an email' } } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'an invalid date',
    build: (r) => (r.body && r.dateField ? { body: { ...r.body, [r.dateField]: '2025-13-45' } } : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'a body over 1 MiB',
    build: (r) => ({ rawBody: JSON.stringify({ ...r.body, pad: 'x'.repeat(MAX_BODY_BYTES) }), headers: json }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    kind: 'a Content-Length over 1 MiB',
    build: (r) => ({
      rawBody: JSON.stringify(r.body ?? {}),
      headers: { ...json, 'content-length': String(MAX_BODY_BYTES + 10) },
    }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    kind: 'a non-JSON content type',
    build: (r) => (r.body ? { rawBody: JSON.stringify(r.body), headers: { 'content-type': 'text/plain' } } : undefined),
    status: 415,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'a missing body',
    build: (r) => (r.body ? {} : undefined),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'a body where none is taken',
    build: (r) => (r.body ? undefined : { body: { force: true } }),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    kind: 'an empty JSON object where no body is taken',
    build: (r) => (r.body ? undefined : { rawBody: '{}', headers: json }),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  ...BAD_NAMES.map((name): BadInput => ({
    kind: `the path value ${JSON.stringify(name)}`,
    build: (r) => {
      if (!r.params) return undefined;
      const [key] = Object.keys(r.params);
      return { params: { ...r.params, [key!]: name }, ...(r.body ? { body: r.body } : {}) };
    },
    status: 400,
    code: 'VALIDATION_FAILED',
  })),
  {
    kind: 'an unknown query parameter',
    build: (r) => ({ query: { debug: 'true' }, ...(r.body ? { body: r.body } : {}) }),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
];

const CASES = WRITE_ROUTES.flatMap((route) =>
  BAD_INPUTS.flatMap((bad) => {
    const request = bad.build(route);
    return request ? [[route.route.name, bad.kind, route, bad, request] as const] : [];
  }),
);

let world: ApiWorld;
let extras: ApiWorldExtras;
useApiWorld({ extras: true }, (started, withExtras) => {
  world = started;
  extras = withExtras;
});

it.each(CASES)('%s refuses %s', async (_name, _kind, route, bad, request) => {
  await world.reset();
  const before = world.snapshot();
  const res = await invokeRoute(route.route, { params: route.params ?? {}, ...request, token: world.tokens.admin });
  expect(res.status).toBe(bad.status);
  expect(res.json.code).toBe(bad.code);
  if (bad.code === 'VALIDATION_FAILED') expect(res.json.errors.length).toBeGreaterThan(0);
  expect(res.text).not.toContain('<script>');
  expect(world.snapshot()).toBe(before);
  expect(await extras.sideEffects()).toEqual({ secrets: 0, queued: 0 });
});

it('the valid form of every request succeeds (so each refusal above is caused by the bad input)', async () => {
  for (const route of WRITE_ROUTES) {
    await world.reset();
    const res = await invokeRoute(route.route, {
      params: route.params ?? {},
      ...(route.body ? { body: route.body } : {}),
      token: world.tokens.admin,
    });
    expect(res.status).toBeLessThan(300);
  }
});

it('tries every kind of bad input on every write route it applies to', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(WRITE_ROUTES.length * 8);
  for (const route of WRITE_ROUTES) {
    expect(CASES.filter(([name]) => name === route.route.name).length).toBeGreaterThanOrEqual(5);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Read routes that reach Microsoft 365 or Blob storage: bad input is refused before either is called.

describe('read routes backed by Graph or Blob storage', () => {
  let fakes: ReturnType<typeof installSyncApiFakes>;
  beforeAll(() => {
    fakes = installSyncApiFakes(world);
  });
  afterAll(() => {
    uninstallSyncApiFakes();
  });

  const attachment = { id: ALICE_MAIL, attachmentId: 'att-0' };
  const READ_CASES: Array<[string, DefinedRoute, InvokeRequest]> = [
    ...BAD_NAMES.map((name): [string, DefinedRoute, InvokeRequest] => [
      `folders of the account ${JSON.stringify(name)}`,
      emailAccountFoldersList,
      { params: { name } },
    ]),
    [
      'folders with an unknown query parameter',
      emailAccountFoldersList,
      { params: { name: ALICE_ACCOUNT }, query: { debug: '1' } },
    ],
    ...['../x', '<script>', 'a b', 'x'.repeat(1025), "' OR 1=1 --"].map((id): [string, DefinedRoute, InvokeRequest] => [
      `the attachment id ${JSON.stringify(id.slice(0, 20))}`,
      communicationAttachmentGet,
      { params: { ...attachment, attachmentId: id } },
    ]),
    ...['../x', '<script>', "' OR 1=1 --"].map((id): [string, DefinedRoute, InvokeRequest] => [
      `an attachment of the communication id ${JSON.stringify(id)}`,
      communicationAttachmentGet,
      { params: { ...attachment, id } },
    ]),
    [
      'an attachment with an unknown query parameter',
      communicationAttachmentGet,
      { params: attachment, query: { raw: '1' } },
    ],
    ['includeBody=maybe', communicationGet, { params: { id: ALICE_MAIL }, query: { includeBody: 'maybe' } }],
  ];

  it.each(READ_CASES)('refuses %s', async (_title, route, request) => {
    await world.reset();
    const before = world.snapshot();
    const res = await invokeRoute(route, { ...request, token: world.tokens.admin });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('VALIDATION_FAILED');
    expect(res.json.errors.length).toBeGreaterThan(0);
    expect(res.text).not.toContain('<script>');
    expect(world.snapshot()).toBe(before);
    expect(fakes.folderCalls).toEqual([]);
  });

  it('answers the valid forms (so each refusal above is caused by the bad input)', async () => {
    await world.reset();
    const token = world.tokens.admin;
    expect((await invokeRoute(emailAccountFoldersList, { params: { name: ALICE_ACCOUNT }, token })).status).toBe(200);
    const download = await invokeRoute(communicationAttachmentGet, { params: attachment, token });
    expect(download.status).toBe(200);
    expect(download.bytes).toEqual(SEEDED_ATTACHMENT_BYTES);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="invoice.pdf"');
    const withBody = await invokeRoute(communicationGet, {
      params: { id: ALICE_MAIL },
      query: { includeBody: 'true' },
      token,
    });
    expect(withBody.status).toBe(200);
    expect(withBody.json.content).toBe('<p>Body 0</p>');
  });
});
