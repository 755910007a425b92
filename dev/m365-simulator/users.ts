/**
 * Graph directory and mailbox-settings endpoints owned by the core:
 *   GET /v1.0/users                                   (User.Read.All, ...; $top, $select, $filter eq, paging)
 *   GET /v1.0/users/{user}                            (directory semantics: Request_ResourceNotFound)
 *   GET /v1.0/users/{user}/mailboxSettings            (MailboxSettings.Read; Exchange semantics)
 *   GET /v1.0/users/{user}/mailboxSettings/userPurpose
 */
import { SimHttpError, type SimRequest, type SimUser } from './contract';
import type { Directory } from './directory';
import type { CoreRouter } from './router';

export const USER_READ_ROLES = [
  'User.Read.All',
  'User.ReadWrite.All',
  'User.ReadBasic.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
export const MAILBOX_SETTINGS_ROLES = ['MailboxSettings.Read', 'MailboxSettings.ReadWrite'];

const DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;
const SELECTABLE = new Set<string>([
  ...DEFAULT_PROPERTIES,
  'accountEnabled',
  'userType',
  'mailNickname',
  'proxyAddresses',
  'otherMails',
]);
const FILTERABLE: Record<string, (u: SimUser) => string> = {
  mail: (u) => u.mail,
  userprincipalname: (u) => u.userPrincipalName,
  id: (u) => u.id,
  displayname: (u) => u.displayName,
};
const DEFAULT_PAGE = 100;

function representation(user: SimUser): Record<string, unknown> {
  return {
    businessPhones: [],
    displayName: user.displayName,
    givenName: null,
    jobTitle: null,
    mail: user.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: user.userPrincipalName,
    id: user.id,
    // Shared, room and equipment mailboxes have a disabled account in Entra.
    accountEnabled: user.userPurpose === 'user',
    userType: 'Member',
    mailNickname: user.userPrincipalName.split('@')[0] ?? '',
    proxyAddresses: [`SMTP:${user.mail}`],
    otherMails: [],
  };
}

function parseSelect(req: SimRequest): string[] | undefined {
  const raw = req.query.get('$select') ?? req.query.get('select');
  if (raw === null || raw.trim() === '') return undefined;
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const canonical = [...SELECTABLE];
  return names.map((name) => {
    const match = canonical.find((c) => c.toLowerCase() === name.toLowerCase());
    if (!match) {
      throw new SimHttpError(
        400,
        'Request_BadRequest',
        `Could not find a property named '${name}' on type 'microsoft.graph.user'.`,
      );
    }
    return match;
  });
}

function shape(user: SimUser, select: string[] | undefined): Record<string, unknown> {
  const full = representation(user);
  const names = select ?? [...DEFAULT_PROPERTIES];
  const result: Record<string, unknown> = {};
  for (const name of names) result[name] = full[name];
  return result;
}

/** `$filter`: `prop eq 'value'` clauses joined by `or` (mail, userPrincipalName, id, displayName). */
function parseFilter(raw: string | null): ((u: SimUser) => boolean) | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const clauses = raw.split(/\s+or\s+/i).map((clause) => {
    const match = /^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$/.exec(clause);
    const getter = match?.[1] ? FILTERABLE[match[1].toLowerCase()] : undefined;
    if (!match || !getter) {
      throw new SimHttpError(400, 'Request_UnsupportedQuery', 'Unsupported Query.');
    }
    const value = (match[2] ?? '').replace(/''/g, "'").toLowerCase();
    return (u: SimUser): boolean => getter(u).toLowerCase() === value;
  });
  return (u) => clauses.some((c) => c(u));
}

export function registerUserRoutes(router: CoreRouter, directory: Directory): void {
  router.add(
    'GET',
    '/v1.0/users',
    (req, ctx) => {
      const caller = ctx.caller;
      if (!caller) throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
      const select = parseSelect(req);
      const filter = parseFilter(req.query.get('$filter') ?? req.query.get('filter'));
      const topRaw = req.query.get('$top') ?? req.query.get('top');
      const top = topRaw === null ? DEFAULT_PAGE : Number(topRaw);
      if (!Number.isInteger(top) || top < 1 || top > 999) {
        throw new SimHttpError(
          400,
          'Request_BadRequest',
          `Invalid page size specified: '${String(topRaw)}'. Must be between 1 and 999 inclusive.`,
        );
      }
      const skipToken = req.query.get('$skiptoken');
      let start = 0;
      if (skipToken !== null) {
        const decoded = /^u:(\d+)$/.exec(Buffer.from(skipToken, 'base64url').toString('utf8'));
        if (!decoded?.[1]) throw new SimHttpError(400, 'Request_BadRequest', 'Invalid $skiptoken.');
        start = Number(decoded[1]);
      }
      const all = directory.listUsers(caller.tenantId).filter((u) => (filter ? filter(u) : true));
      const value = all.slice(start, start + top).map((u) => shape(u, select));
      const body: Record<string, unknown> = {
        '@odata.context': `${ctx.baseUrl}/v1.0/$metadata#users${select ? `(${select.join(',')})` : ''}`,
      };
      if (start + top < all.length) {
        const next = new URLSearchParams();
        if (select) next.set('$select', select.join(','));
        const rawFilter = req.query.get('$filter');
        if (rawFilter) next.set('$filter', rawFilter);
        next.set('$top', String(top));
        next.set('$skiptoken', Buffer.from(`u:${start + top}`).toString('base64url'));
        body['@odata.nextLink'] = `${ctx.baseUrl}/v1.0/users?${next.toString()}`;
      }
      body['value'] = value;
      return { status: 200, body };
    },
    { auth: 'graph', anyOf: USER_READ_ROLES, flavour: 'directory' },
  );

  router.add(
    'GET',
    '/v1.0/users/{user}',
    (req, ctx) => {
      const user = requireMailbox(ctx.mailbox);
      const select = parseSelect(req);
      return {
        status: 200,
        body: {
          '@odata.context': `${ctx.baseUrl}/v1.0/$metadata#users${select ? `(${select.join(',')})` : ''}/$entity`,
          ...shape(user, select),
        },
      };
    },
    { auth: 'graph', anyOf: USER_READ_ROLES, flavour: 'directory' },
  );

  router.add(
    'GET',
    '/v1.0/users/{user}/mailboxSettings',
    (_req, ctx) => {
      const user = requireMailbox(ctx.mailbox);
      return {
        status: 200,
        body: {
          '@odata.context': `${ctx.baseUrl}/v1.0/$metadata#users('${encodeURIComponent(user.id)}')/mailboxSettings`,
          ...mailboxSettings(user),
        },
      };
    },
    { auth: 'graph', anyOf: MAILBOX_SETTINGS_ROLES },
  );

  router.add(
    'GET',
    '/v1.0/users/{user}/mailboxSettings/userPurpose',
    (_req, ctx) => {
      const user = requireMailbox(ctx.mailbox);
      return {
        status: 200,
        body: {
          '@odata.context': `${ctx.baseUrl}/v1.0/$metadata#users('${encodeURIComponent(user.id)}')/mailboxSettings/userPurpose`,
          value: user.userPurpose,
        },
      };
    },
    { auth: 'graph', anyOf: MAILBOX_SETTINGS_ROLES },
  );
}

function requireMailbox(user: SimUser | undefined): SimUser {
  if (!user) throw new SimHttpError(500, 'InternalServerError', 'The user was not resolved.');
  return user;
}

function mailboxSettings(user: SimUser): Record<string, unknown> {
  return {
    archiveFolder: `AAMkA${Buffer.from(`archive:${user.id}`).toString('base64url')}AAA=`,
    timeZone: 'UTC',
    delegateMeetingMessageDeliveryOptions: 'sendToDelegateOnly',
    dateFormat: 'yyyy-MM-dd',
    timeFormat: 'HH:mm',
    userPurpose: user.userPurpose,
    automaticRepliesSetting: {
      status: 'disabled',
      externalAudience: 'all',
      internalReplyMessage: '',
      externalReplyMessage: '',
      scheduledStartDateTime: { dateTime: '2024-01-01T00:00:00.0000000', timeZone: 'UTC' },
      scheduledEndDateTime: { dateTime: '2024-01-02T00:00:00.0000000', timeZone: 'UTC' },
    },
    language: { locale: 'en-US', displayName: 'English (United States)' },
    workingHours: {
      daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
      startTime: '08:00:00.0000000',
      endTime: '17:00:00.0000000',
      timeZone: { name: 'UTC' },
    },
  };
}
