/**
 * Entra ID stand-in: the v2.0 token endpoint (client credentials with a client secret, a certificate
 * assertion or a federated assertion), the tenant's OpenID configuration and the JWKS, with Entra's error
 * shapes and AADSTS codes.
 */
import { randomUUID } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { SimRequest, SimResponse } from '../contract';
import { hashSecret, isGuid, type Directory, type SimApplication, type SimTenant } from '../directory';
import type { Counters } from '../limits';
import type { CoreRouter } from '../router';
import { GRAPH_RESOURCE, KNOWN_RESOURCES, TOKEN_LIFETIME_SECONDS, appTokenClaims, type SigningKeys } from './tokens';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MULTI_TENANT_ALIASES = new Set(['common', 'organizations', 'consumers']);
const ASSERTION_SKEW_SECONDS = 300;

export interface EntraDeps {
  router: CoreRouter;
  directory: Directory;
  keys: SigningKeys;
  counters: Counters;
  baseUrl: () => string;
  now: () => Date;
}

/** An Entra token endpoint failure: rendered as `{ error, error_description, error_codes, ... }`. */
class EntraFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
    readonly suberror?: string,
  ) {
    super(`AADSTS${aadsts}: ${description}`);
  }
}

function entraTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function entraErrorResponse(failure: EntraFailure, req: SimRequest, now: Date): SimResponse {
  const traceId = randomUUID();
  const header = req.headers['client-request-id'];
  const correlationId = (Array.isArray(header) ? header[0] : header) ?? randomUUID();
  const timestamp = entraTimestamp(now);
  const body: Record<string, unknown> = {
    error: failure.error,
    error_description: `${failure.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [failure.aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${failure.aadsts}`,
  };
  if (failure.suberror) body['suberror'] = failure.suberror;
  return {
    status: failure.status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
    },
    body,
  };
}

export function registerEntraRoutes(deps: EntraDeps): void {
  const { router, directory, keys, counters, baseUrl, now } = deps;
  const options = { auth: 'none', kind: 'entra' } as const;

  router.add(
    'POST',
    '/{tenant}/oauth2/v2.0/token',
    async (req) => {
      try {
        return await issueToken(req);
      } catch (error) {
        if (error instanceof EntraFailure) return entraErrorResponse(error, req, now());
        throw error;
      }
    },
    options,
  );

  router.add(
    'GET',
    '/{tenant}/v2.0/.well-known/openid-configuration',
    (req) => {
      const segment = req.params['tenant'] ?? '';
      const alias = MULTI_TENANT_ALIASES.has(segment.toLowerCase());
      const tenant = alias ? undefined : directory.findTenant(segment);
      if (!alias && !tenant) {
        return entraErrorResponse(tenantNotFound(segment, 'invalid_tenant'), req, now());
      }
      return {
        status: 200,
        headers: jsonHeaders(),
        body: openIdConfiguration(baseUrl(), tenant?.id ?? segment, alias),
      };
    },
    options,
  );

  const jwks = (): SimResponse => ({
    status: 200,
    headers: jsonHeaders(),
    body: keys.jwks(`${baseUrl()}/{tenantid}/v2.0`),
  });
  router.add('GET', '/{tenant}/discovery/v2.0/keys', jwks, options);
  router.add('GET', '/common/discovery/v2.0/keys', jwks, options);
  router.add('GET', '/discovery/v2.0/keys', jwks, options);

  async function issueToken(req: SimRequest): Promise<SimResponse> {
    const segment = req.params['tenant'] ?? '';
    const form = new URLSearchParams(req.body.toString('utf8'));
    const basic = parseBasicAuth(req.headers['authorization']);
    const clientId = (form.get('client_id') ?? basic?.clientId ?? '').trim();
    // Counted per registered app (failed attempts too), so the map is bounded by the directory.
    if (clientId && directory.getApp(clientId)) counters.tokenRequest(clientId.toLowerCase());

    const tenant = resolveTenant(segment);
    const grantType = form.get('grant_type');
    if (!grantType) throw missingParameter('grant_type');
    if (grantType !== 'client_credentials') {
      throw new EntraFailure(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    if (!clientId) throw missingParameter('client_id');
    if (!isGuid(clientId)) {
      throw new EntraFailure(400, 'unauthorized_client', 700038, `${clientId} is not a valid application identifier.`);
    }
    const principal = directory.getPrincipal(tenant.id, clientId);
    const app = directory.getApp(clientId);
    if (!principal || !app) {
      throw new EntraFailure(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    const audience = resolveScope(form.get('scope'), tenant);

    const secret = form.get('client_secret') ?? basic?.secret ?? null;
    const assertion = form.get('client_assertion');
    if (secret !== null) checkSecret(app, secret);
    else if (assertion !== null)
      await checkAssertion(app, tenant, segment, form.get('client_assertion_type'), assertion);
    else {
      throw new EntraFailure(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }

    const roles = audience.resource === GRAPH_RESOURCE ? principal.roles : [];
    if (audience.resource === GRAPH_RESOURCE && roles.length === 0) {
      throw new EntraFailure(
        400,
        'invalid_grant',
        65001,
        `The user or administrator has not consented to use the application with ID '${app.appId}' named '${app.displayName}'. Send an interactive authorization request for this user and resource.`,
        'consent_required',
      );
    }
    const nowSeconds = Math.floor(now().getTime() / 1000);
    const accessToken = await keys.sign(
      appTokenClaims({
        baseUrl: baseUrl(),
        tenantId: tenant.id,
        appId: app.appId,
        servicePrincipalId: principal.objectId,
        audience: audience.aud,
        roles,
        nowSeconds,
      }),
    );
    return {
      status: 200,
      headers: jsonHeaders(),
      body: {
        token_type: 'Bearer',
        expires_in: TOKEN_LIFETIME_SECONDS,
        ext_expires_in: TOKEN_LIFETIME_SECONDS,
        access_token: accessToken,
      },
    };
  }

  function resolveTenant(segment: string): SimTenant {
    if (MULTI_TENANT_ALIASES.has(segment.toLowerCase())) {
      throw new EntraFailure(
        400,
        'invalid_request',
        50059,
        'No tenant-identifying information found in either the request or implied by any provided credentials.',
      );
    }
    const tenant = directory.findTenant(segment);
    if (!tenant) throw tenantNotFound(segment, 'invalid_request');
    return tenant;
  }

  function resolveScope(scope: string | null, tenant: SimTenant): { resource: string; aud: string } {
    if (!scope) throw missingParameter('scope');
    const scopes = scope
      .split(/\s+/)
      .filter((s) => s !== '' && !['openid', 'profile', 'offline_access', 'email'].includes(s.toLowerCase()));
    for (const s of scopes) {
      if (!s.toLowerCase().endsWith('/.default')) {
        throw new EntraFailure(
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
    }
    if (scopes.length !== 1) {
      throw new EntraFailure(
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. One or more scopes in '${scope}' are not compatible with each other.`,
      );
    }
    const resource = (scopes[0] ?? '').slice(0, -'/.default'.length).replace(/\/$/, '');
    const known = KNOWN_RESOURCES.get(resource.toLowerCase()) ?? KNOWN_RESOURCES.get(resource);
    if (known) return { resource: known, aud: known };
    // An API registered in the simulator (`api://{appId}` or `{appId}`): tokens carry the app id as audience.
    const apiAppId = resource.toLowerCase().replace(/^api:\/\//, '');
    if (isGuid(apiAppId) && directory.getPrincipal(tenant.id, apiAppId)) return { resource, aud: apiAppId };
    throw new EntraFailure(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
  }

  function checkSecret(app: SimApplication, secret: string): void {
    const hash = hashSecret(secret);
    const match = app.secrets.find((s) => s.hash === hash);
    if (!match) {
      throw new EntraFailure(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
      );
    }
    if (Date.parse(match.expiresAt) <= now().getTime()) {
      throw new EntraFailure(
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${app.appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds`,
      );
    }
  }

  async function checkAssertion(
    app: SimApplication,
    tenant: SimTenant,
    segment: string,
    assertionType: string | null,
    assertion: string,
  ): Promise<void> {
    if (!assertionType) throw missingParameter('client_assertion_type');
    if (assertionType !== JWT_BEARER) {
      throw new EntraFailure(
        400,
        'invalid_request',
        50027,
        `JWT token is invalid or malformed. Unsupported client_assertion_type '${assertionType}'.`,
      );
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      payload = decodeJwt(assertion);
    } catch {
      throw new EntraFailure(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    }
    const nowSeconds = Math.floor(now().getTime() / 1000);
    // A certificate assertion names the client itself as issuer and subject; anything else is federated.
    const selfAsserted = typeof payload.iss === 'string' && payload.iss === payload.sub && isGuid(payload.iss);
    if (selfAsserted && payload.iss?.toLowerCase() === app.appId) {
      await checkCertificateAssertion(app, tenant, segment, assertion, header, payload, nowSeconds);
    } else if (selfAsserted) {
      throw new EntraFailure(
        401,
        'invalid_client',
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter.",
      );
    } else {
      await checkFederatedAssertion(app, assertion, payload, nowSeconds);
    }
  }

  async function checkCertificateAssertion(
    app: SimApplication,
    tenant: SimTenant,
    segment: string,
    assertion: string,
    header: ReturnType<typeof decodeProtectedHeader>,
    payload: JWTPayload,
    nowSeconds: number,
  ): Promise<void> {
    const x5tS256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const x5t = typeof header.x5t === 'string' ? header.x5t : undefined;
    const cert = app.certificates.find((c) => (x5tS256 ? c.x5tS256 === x5tS256 : x5t ? c.x5t === x5t : false));
    const presented = x5tS256 ?? x5t ?? '(none)';
    if (!cert) {
      throw new EntraFailure(
        401,
        'invalid_client',
        700027,
        `Client assertion failed signature validation. (Reason - The key was not found., Thumbprint of key used by client: '${thumbprintHex(presented)}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.)`,
      );
    }
    if (header.alg !== 'RS256' && header.alg !== 'PS256') {
      throw new EntraFailure(
        401,
        'invalid_client',
        700027,
        `Client assertion failed signature validation. (Reason - The algorithm '${String(header.alg)}' is not supported.)`,
      );
    }
    try {
      await compactVerify(assertion, cert.publicKey, { algorithms: ['RS256', 'PS256'] });
    } catch {
      throw new EntraFailure(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    if (cert.notAfter.getTime() < nowSeconds * 1000 || cert.notBefore.getTime() > nowSeconds * 1000) {
      throw new EntraFailure(
        401,
        'invalid_client',
        700027,
        `Client assertion contains an invalid signature. (Reason - The key used is expired., Thumbprint of key used by client: '${cert.thumbprint}')`,
      );
    }
    const audiences = [tenant.id, ...tenant.domains, segment.toLowerCase()].map((t) =>
      `${baseUrl()}/${t}/oauth2/v2.0/token`.toLowerCase(),
    );
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a.toLowerCase()))) {
      throw new EntraFailure(
        401,
        'invalid_client',
        700023,
        'Client assertion audience claim does not match Realm issuer.',
      );
    }
    checkAssertionLifetime(payload, nowSeconds);
  }

  async function checkFederatedAssertion(
    app: SimApplication,
    assertion: string,
    payload: JWTPayload,
    nowSeconds: number,
  ): Promise<void> {
    const iss = payload.iss ?? '';
    const sub = payload.sub ?? '';
    const aud = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter(
      (a): a is string => typeof a === 'string',
    );
    const described = `Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud.join(',')}'.`;
    const byIssuer = app.federatedIssuers.filter((f) => f.issuer === iss);
    if (byIssuer.length === 0) {
      throw new EntraFailure(
        400,
        'invalid_request',
        70021,
        `No matching federated identity record found for presented assertion. ${described}`,
      );
    }
    const bySubject = byIssuer.filter((f) => f.subject === sub);
    if (bySubject.length === 0) {
      throw new EntraFailure(
        400,
        'invalid_request',
        700213,
        `No matching federated identity record found for presented assertion subject '${sub}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    if (!bySubject.some((f) => f.audiences.some((a) => aud.includes(a)))) {
      throw new EntraFailure(
        400,
        'invalid_request',
        700212,
        `No matching federated identity record found for presented assertion audience '${aud.join(',')}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    // The simulator can only check signatures of tokens it issued (no network): other issuers are trusted.
    const selfIssued = /^(.*)\/([0-9a-f-]{36})\/v2\.0$/i.exec(iss);
    if (selfIssued && selfIssued[1] === baseUrl()) {
      const kid = decodeProtectedHeader(assertion).kid;
      const key = keys.find(kid);
      let valid = false;
      if (key) {
        try {
          await compactVerify(assertion, key.publicKey, { algorithms: ['RS256'] });
          valid = true;
        } catch {
          valid = false;
        }
      }
      if (!valid) {
        throw new EntraFailure(
          401,
          'invalid_client',
          50013,
          'Assertion failed signature validation. [Reason - The key was not found.]',
        );
      }
    }
    checkAssertionLifetime(payload, nowSeconds);
  }

  function checkAssertionLifetime(payload: JWTPayload, nowSeconds: number): void {
    const exp = payload.exp;
    const nbf = payload.nbf;
    const expired = typeof exp !== 'number' || exp + ASSERTION_SKEW_SECONDS < nowSeconds;
    const early = typeof nbf === 'number' && nbf - ASSERTION_SKEW_SECONDS > nowSeconds;
    if (expired || early) {
      const iso = (s: unknown): string => (typeof s === 'number' ? new Date(s * 1000).toISOString() : 'unspecified');
      throw new EntraFailure(
        401,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${new Date(nowSeconds * 1000).toISOString()}, assertion valid from ${iso(nbf)}, expiry time of assertion ${iso(exp)}.`,
      );
    }
  }
}

function tenantNotFound(segment: string, error: string): EntraFailure {
  const validName = isGuid(segment) || /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(segment);
  if (!validName) {
    return new EntraFailure(
      400,
      error,
      900023,
      `Specified tenant identifier '${segment}' is neither a valid DNS name, nor a valid external domain.`,
    );
  }
  return new EntraFailure(
    400,
    error,
    90002,
    `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

function missingParameter(name: string): EntraFailure {
  return new EntraFailure(
    400,
    'invalid_request',
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

function parseBasicAuth(header: string | string[] | undefined): { clientId: string; secret: string } | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Basic\s+(\S+)$/i.exec(value ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

function thumbprintHex(base64url: string): string {
  try {
    return Buffer.from(base64url, 'base64url').toString('hex').toUpperCase();
  } catch {
    return base64url;
  }
}

function jsonHeaders(): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store, no-cache',
    pragma: 'no-cache',
  };
}

/** The tenant's OpenID Connect discovery document, shaped like Entra's (all endpoints on the simulator). */
export function openIdConfiguration(base: string, tenant: string, alias: boolean): Record<string, unknown> {
  const t = tenant;
  return {
    token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: alias ? `${base}/{tenantid}/v2.0` : `${base}/${t}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${base}/${t}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}
