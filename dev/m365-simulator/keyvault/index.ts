/**
 * Key Vault secrets stand-in (one vault at the simulator's root URL): the bearer challenge the Azure SDK's
 * `keyVaultAuthenticationPolicy` expects, set / get (latest or by version) / update / list / list versions /
 * delete (soft delete) / get deleted / list deleted / recover / purge, with Key Vault's error shapes.
 */
import { randomBytes } from 'node:crypto';
import type { SimRequest, SimResponse } from '../contract';
import { VAULT_APP_ID, VAULT_RESOURCE, type TokenFailure, type TokenValidator } from '../entra/tokens';
import type { CoreRouter } from '../router';

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** `7.x` and the newer date versions (`2025-07-01`, which @azure/keyvault-secrets 4.11 sends). */
const API_VERSION = /^(7\.\d+(-preview(\.\d+)?)?|\d{4}-\d{2}-\d{2}(-preview)?)$/;
const MAX_VALUE_CHARS = 25 * 1024;
const RECOVERABLE_DAYS = 90;
const DEFAULT_PAGE = 25;

interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

interface StoredSecret {
  name: string;
  /** Oldest first; the last one is the current version. */
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

export interface KeyVaultDeps {
  router: CoreRouter;
  tokens: TokenValidator;
  baseUrl: () => string;
  now: () => Date;
  /** The vault's tenant, named in the challenge (`authorization="${url}/{tenant}"`). */
  vaultTenantId: () => string | undefined;
}

export interface KeyVaultModule {
  reset(): void;
}

class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

const TOKEN_MESSAGES: Record<TokenFailure, string> = {
  malformed: 'AKV10000: Request is missing a Bearer or PoP token.',
  signature: 'AKV10032: Invalid issuer or signature.',
  issuer: 'AKV10032: Invalid issuer.',
  audience: `AKV10022: Invalid audience. Expected ${VAULT_RESOURCE}.`,
  expired: 'AKV10012: Token has expired.',
  notYetValid: 'AKV10013: Token is not yet valid.',
};

export function registerKeyVaultRoutes(deps: KeyVaultDeps): KeyVaultModule {
  const { router, tokens, baseUrl, now } = deps;
  let secrets = new Map<string, StoredSecret>();
  const nowSeconds = (): number => Math.floor(now().getTime() / 1000);

  const route = (
    method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST',
    pattern: string,
    handler: (req: SimRequest) => SimResponse,
  ): void => {
    router.add(
      method,
      pattern,
      async (req) => {
        const denied = await authenticate(req);
        if (denied) return denied;
        try {
          const version = req.query.get('api-version');
          if (!version) throw new VaultError(400, 'BadParameter', 'The api-version query parameter is required.');
          if (!API_VERSION.test(version)) {
            throw new VaultError(
              400,
              'BadParameter',
              `The specified version (${version}) is not recognized. Consider using the latest supported version (2025-07-01).`,
            );
          }
          const name = req.params['name'];
          if (name !== undefined && !NAME.test(name)) {
            throw new VaultError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
          }
          return handler(req);
        } catch (error) {
          if (error instanceof VaultError) return vaultError(error);
          throw error;
        }
      },
      { auth: 'none', kind: 'keyvault' },
    );
  };

  async function authenticate(req: SimRequest): Promise<SimResponse | undefined> {
    const header = req.headers['authorization'];
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    let message: string | undefined;
    if (!match?.[1]) message = 'AKV10000: Request is missing a Bearer or PoP token.';
    else {
      const result = await tokens.check(match[1], [VAULT_RESOURCE, VAULT_APP_ID], nowSeconds());
      if (!result.ok) message = TOKEN_MESSAGES[result.failure];
    }
    if (message === undefined) return undefined;
    const tenant = deps.vaultTenantId() ?? 'common';
    return {
      status: 401,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'www-authenticate': `Bearer authorization="${baseUrl()}/${tenant}", resource="${VAULT_RESOURCE}"`,
      },
      body: { error: { code: 'Unauthorized', message } },
    };
  }

  function find(name: string): StoredSecret | undefined {
    return secrets.get(name.toLowerCase());
  }

  function live(name: string): StoredSecret {
    const secret = find(name);
    if (!secret || secret.deleted) throw notFound(name);
    return secret;
  }

  function notFound(name: string, version?: string): VaultError {
    const id = version ? `${name}/${version}` : name;
    return new VaultError(
      404,
      'SecretNotFound',
      `A secret with (name/id) ${id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );
  }

  function deletedOnly(name: string): StoredSecret & { deleted: NonNullable<StoredSecret['deleted']> } {
    const secret = find(name);
    if (!secret?.deleted) throw new VaultError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    return secret as StoredSecret & { deleted: NonNullable<StoredSecret['deleted']> };
  }

  function attributes(v: SecretVersion): Record<string, unknown> {
    const result: Record<string, unknown> = { enabled: v.enabled };
    if (v.nbf !== undefined) result['nbf'] = v.nbf;
    if (v.exp !== undefined) result['exp'] = v.exp;
    Object.assign(result, {
      created: v.created,
      updated: v.updated,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: RECOVERABLE_DAYS,
    });
    return result;
  }

  function bundle(secret: StoredSecret, v: SecretVersion, withValue: boolean): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    if (withValue) result['value'] = v.value;
    if (v.contentType !== undefined) result['contentType'] = v.contentType;
    result['id'] = `${baseUrl()}/secrets/${secret.name}/${v.version}`;
    result['attributes'] = attributes(v);
    if (v.tags !== undefined) result['tags'] = v.tags;
    return result;
  }

  function item(secret: StoredSecret, v: SecretVersion, withVersion: boolean): Record<string, unknown> {
    const result: Record<string, unknown> = {
      id: `${baseUrl()}/secrets/${secret.name}${withVersion ? `/${v.version}` : ''}`,
      attributes: attributes(v),
    };
    if (v.tags !== undefined) result['tags'] = v.tags;
    if (v.contentType !== undefined) result['contentType'] = v.contentType;
    return result;
  }

  function deletedBundle(
    secret: StoredSecret & { deleted: NonNullable<StoredSecret['deleted']> },
    asItem: boolean,
  ): Record<string, unknown> {
    const current = secret.versions[secret.versions.length - 1];
    if (!current) throw notFound(secret.name);
    return {
      recoveryId: `${baseUrl()}/deletedsecrets/${secret.name}`,
      deletedDate: secret.deleted.deletedDate,
      scheduledPurgeDate: secret.deleted.scheduledPurgeDate,
      ...(asItem ? item(secret, current, false) : bundle(secret, current, false)),
    };
  }

  function page<T>(req: SimRequest, all: T[], path: string): SimResponse {
    const maxRaw = req.query.get('maxresults');
    const max = maxRaw === null ? DEFAULT_PAGE : Number(maxRaw);
    if (!Number.isInteger(max) || max < 1 || max > 25) {
      throw new VaultError(
        400,
        'BadParameter',
        `The value of maxresults (${String(maxRaw)}) must be between 1 and 25.`,
      );
    }
    const token = req.query.get('$skiptoken');
    const start = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new VaultError(400, 'BadParameter', 'The $skiptoken is invalid.');
    const value = all.slice(start, start + max);
    const next =
      start + max < all.length
        ? `${baseUrl()}${path}?api-version=${req.query.get('api-version') ?? '2025-07-01'}&$skiptoken=${Buffer.from(String(start + max)).toString('base64url')}&maxresults=${max}`
        : null;
    return json(200, { value, nextLink: next });
  }

  function parseSetBody(
    req: SimRequest,
    requireValue: boolean,
  ): {
    value?: string;
    contentType?: string;
    tags?: Record<string, string>;
    attributes?: { enabled?: boolean; nbf?: number; exp?: number };
  } {
    let body: unknown;
    try {
      body = req.json();
    } catch {
      throw new VaultError(400, 'BadParameter', 'The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null)
      throw new VaultError(400, 'BadParameter', 'The request body must be a JSON object.');
    const b = body as Record<string, unknown>;
    if (requireValue && typeof b['value'] !== 'string')
      throw new VaultError(400, 'BadParameter', "Property 'value' is required and must be a string.");
    if (typeof b['value'] === 'string' && b['value'].length > MAX_VALUE_CHARS) {
      throw new VaultError(
        400,
        'BadParameter',
        `The secret value exceeds the maximum size of ${MAX_VALUE_CHARS} characters.`,
      );
    }
    if (b['contentType'] !== undefined && typeof b['contentType'] !== 'string')
      throw new VaultError(400, 'BadParameter', "Property 'contentType' must be a string.");
    const tags = b['tags'];
    if (
      tags !== undefined &&
      (typeof tags !== 'object' || tags === null || Object.values(tags).some((t) => typeof t !== 'string'))
    ) {
      throw new VaultError(400, 'BadParameter', "Property 'tags' must map names to strings.");
    }
    if (tags !== undefined && Object.keys(tags).length > 15)
      throw new VaultError(400, 'BadParameter', 'A secret can have at most 15 tags.');
    const attrs = b['attributes'];
    let parsedAttributes: { enabled?: boolean; nbf?: number; exp?: number } | undefined;
    if (attrs !== undefined) {
      if (typeof attrs !== 'object' || attrs === null)
        throw new VaultError(400, 'BadParameter', "Property 'attributes' must be an object.");
      const a = attrs as Record<string, unknown>;
      parsedAttributes = {};
      if (a['enabled'] !== undefined) {
        if (typeof a['enabled'] !== 'boolean')
          throw new VaultError(400, 'BadParameter', "Property 'attributes.enabled' must be a boolean.");
        parsedAttributes.enabled = a['enabled'];
      }
      for (const key of ['nbf', 'exp'] as const) {
        if (a[key] !== undefined && a[key] !== null) {
          if (typeof a[key] !== 'number' || !Number.isInteger(a[key]))
            throw new VaultError(400, 'BadParameter', `Property 'attributes.${key}' must be Unix time in seconds.`);
          parsedAttributes[key] = a[key];
        }
      }
    }
    const result: ReturnType<typeof parseSetBody> = {};
    if (typeof b['value'] === 'string') result.value = b['value'];
    if (typeof b['contentType'] === 'string') result.contentType = b['contentType'];
    if (tags !== undefined) result.tags = { ...(tags as Record<string, string>) };
    if (parsedAttributes) result.attributes = parsedAttributes;
    return result;
  }

  route('PUT', '/secrets/{name}', (req) => {
    const name = req.params['name'] ?? '';
    const input = parseSetBody(req, true);
    let secret = find(name);
    if (secret?.deleted) {
      throw new VaultError(
        409,
        'Conflict',
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        'ObjectIsDeletedButRecoverable',
      );
    }
    if (!secret) {
      secret = { name, versions: [] };
      secrets.set(name.toLowerCase(), secret);
    }
    const at = nowSeconds();
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value: input.value ?? '',
      enabled: input.attributes?.enabled ?? true,
      created: at,
      updated: at,
    };
    if (input.contentType !== undefined) version.contentType = input.contentType;
    if (input.tags !== undefined) version.tags = input.tags;
    if (input.attributes?.nbf !== undefined) version.nbf = input.attributes.nbf;
    if (input.attributes?.exp !== undefined) version.exp = input.attributes.exp;
    secret.versions.push(version);
    return json(200, bundle(secret, version, true));
  });

  const getSecret = (req: SimRequest): SimResponse => {
    const name = req.params['name'] ?? '';
    const requested = req.params['version'];
    const secret = live(name);
    const v = requested
      ? secret.versions.find((x) => x.version === requested.toLowerCase())
      : secret.versions[secret.versions.length - 1];
    if (!v) throw notFound(name, requested);
    if (!v.enabled)
      throw new VaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    return json(200, bundle(secret, v, true));
  };
  route('GET', '/secrets/{name}', getSecret);
  route('GET', '/secrets/{name}/{version}', getSecret);

  route('PATCH', '/secrets/{name}/{version}', (req) => {
    const name = req.params['name'] ?? '';
    const requested = req.params['version'] ?? '';
    const secret = live(name);
    const v = requested
      ? secret.versions.find((x) => x.version === requested.toLowerCase())
      : secret.versions[secret.versions.length - 1];
    if (!v) throw notFound(name, requested);
    const input = parseSetBody(req, false);
    if (input.contentType !== undefined) v.contentType = input.contentType;
    if (input.tags !== undefined) v.tags = input.tags;
    if (input.attributes?.enabled !== undefined) v.enabled = input.attributes.enabled;
    if (input.attributes?.nbf !== undefined) v.nbf = input.attributes.nbf;
    if (input.attributes?.exp !== undefined) v.exp = input.attributes.exp;
    v.updated = nowSeconds();
    return json(200, bundle(secret, v, false));
  });

  route('GET', '/secrets', (req) => {
    const all = [...secrets.values()]
      .filter((s) => !s.deleted)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => {
        const current = s.versions[s.versions.length - 1];
        return current ? item(s, current, false) : undefined;
      })
      .filter((x): x is Record<string, unknown> => x !== undefined);
    return page(req, all, '/secrets');
  });

  route('GET', '/secrets/{name}/versions', (req) => {
    const name = req.params['name'] ?? '';
    const secret = live(name);
    return page(
      req,
      secret.versions.map((v) => item(secret, v, true)),
      `/secrets/${secret.name}/versions`,
    );
  });

  route('DELETE', '/secrets/{name}', (req) => {
    const secret = live(req.params['name'] ?? '');
    const at = nowSeconds();
    secret.deleted = { deletedDate: at, scheduledPurgeDate: at + RECOVERABLE_DAYS * 24 * 3600 };
    return json(200, deletedBundle(secret as Parameters<typeof deletedBundle>[0], false));
  });

  route('GET', '/deletedsecrets/{name}', (req) =>
    json(200, deletedBundle(deletedOnly(req.params['name'] ?? ''), false)),
  );

  route('GET', '/deletedsecrets', (req) => {
    const all = [...secrets.values()]
      .filter((s): s is Parameters<typeof deletedBundle>[0] => s.deleted !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => deletedBundle(s, true));
    return page(req, all, '/deletedsecrets');
  });

  route('DELETE', '/deletedsecrets/{name}', (req) => {
    const secret = deletedOnly(req.params['name'] ?? '');
    secrets.delete(secret.name.toLowerCase());
    return { status: 204 };
  });

  route('POST', '/deletedsecrets/{name}/recover', (req) => {
    const secret = deletedOnly(req.params['name'] ?? '');
    delete (secret as StoredSecret).deleted;
    const current = secret.versions[secret.versions.length - 1];
    if (!current) throw notFound(secret.name);
    return json(200, bundle(secret, current, false));
  });

  return {
    reset(): void {
      secrets = new Map();
    },
  };
}

function json(status: number, body: unknown): SimResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
}

function vaultError(error: VaultError): SimResponse {
  const body: { error: Record<string, unknown> } = { error: { code: error.code, message: error.message } };
  if (error.inner) body.error['innererror'] = { code: error.inner };
  return json(error.status, body);
}
