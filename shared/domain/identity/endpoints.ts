/**
 * Endpoint safety. A service principal's authority URL is where its client secret (or signed assertion) is
 * sent, and its Graph endpoint is where its access tokens are sent; an admin-entered URL on any other host
 * would hand the credential to that host. So both must be https on the known Microsoft hosts of the
 * principal's cloud, unless the exact `host:port` is listed in `ALLOWED_DEV_HOSTS` (the local simulator).
 */
import { validationFailed, type FieldError } from '../../errors';
import { CLOUD_PROFILES, cloudDefaults, cloudOfAuthorityHost, cloudOfGraphHost, type Cloud } from './clouds';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
/** Authority tenants that cannot be used with client credentials (they name no single tenant). */
const MULTI_TENANT_SEGMENTS = new Set(['common', 'organizations', 'consumers']);
const GRAPH_VERSIONS = new Set(['v1.0', 'beta']);

/** `host:port` as listed in ALLOWED_DEV_HOSTS (the port is explicit even when it is 443). */
export function hostWithPort(url: URL): string {
  return `${url.hostname.toLowerCase()}:${url.port || '443'}`;
}

/** True when the URL's exact host and port are listed in `allowedDevHosts` (lowercase `host:port`). */
export function isAllowedDevHost(url: URL, allowedDevHosts: readonly string[]): boolean {
  return allowedDevHosts.includes(hostWithPort(url));
}

function isMicrosoftHostOf(url: URL, hosts: readonly string[]): boolean {
  return (url.port === '' || url.port === '443') && hosts.includes(url.hostname.toLowerCase());
}

type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

function parseHttpsUrl(raw: string): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, message: 'must be a valid URL' };
  }
  if (url.protocol !== 'https:') return { ok: false, message: 'must use https' };
  if (url.username || url.password) return { ok: false, message: 'must not contain a user name or password' };
  if (url.search || url.hash) return { ok: false, message: 'must not contain a query string or fragment' };
  return { ok: true, url };
}

export interface EndpointInput {
  tenantId: string;
  cloud?: Cloud | undefined;
  authorityUrl?: string | undefined;
  graphApiEndpoint?: string | undefined;
  scopes?: string | undefined;
}

export interface ResolvedEndpoints {
  cloud: Cloud;
  authorityUrl: string;
  graphApiEndpoint: string;
  scopes: string;
}

/** The cloud named by the input, or the one its Microsoft URLs belong to, or `global`. */
function inferCloud(input: EndpointInput): Cloud {
  if (input.cloud) return input.cloud;
  const hostOf = (raw: string | undefined): string | undefined => {
    if (!raw) return undefined;
    try {
      return new URL(raw.trim()).hostname;
    } catch {
      return undefined;
    }
  };
  const graphHost = hostOf(input.graphApiEndpoint);
  const byGraph = graphHost ? cloudOfGraphHost(graphHost) : undefined;
  if (byGraph) return byGraph;
  const authorityHost = hostOf(input.authorityUrl);
  return (authorityHost ? cloudOfAuthorityHost(authorityHost) : undefined) ?? 'global';
}

/**
 * Fills the cloud's defaults for whatever the admin left out and checks what they entered.
 * Returns normalised URLs (no trailing slash). Throws VALIDATION_FAILED listing every bad field.
 */
export function resolveEndpoints(input: EndpointInput, allowedDevHosts: readonly string[]): ResolvedEndpoints {
  const cloud = inferCloud(input);
  const profile = CLOUD_PROFILES[cloud];
  const defaults = cloudDefaults(cloud, input.tenantId);
  const errors: FieldError[] = [];

  let authorityUrl = defaults.authorityUrl;
  if (input.authorityUrl !== undefined) {
    const checked = parseHttpsUrl(input.authorityUrl);
    if (!checked.ok) {
      errors.push({ field: 'authorityUrl', message: checked.message });
    } else {
      const url = checked.url;
      const problem = authorityProblem(url, input.tenantId, cloud, allowedDevHosts);
      if (problem) errors.push({ field: 'authorityUrl', message: problem });
      else authorityUrl = `${url.origin}/${url.pathname.split('/').filter(Boolean)[0] ?? ''}`;
    }
  }

  let graphApiEndpoint = defaults.graphApiEndpoint;
  if (input.graphApiEndpoint !== undefined) {
    const checked = parseHttpsUrl(input.graphApiEndpoint);
    if (!checked.ok) {
      errors.push({ field: 'graphApiEndpoint', message: checked.message });
    } else {
      const url = checked.url;
      const segments = url.pathname.split('/').filter(Boolean);
      if (!isMicrosoftHostOf(url, profile.graphHosts) && !isAllowedDevHost(url, allowedDevHosts)) {
        errors.push({
          field: 'graphApiEndpoint',
          message: `must be on ${profile.graphHosts.join(' or ')} (the Microsoft Graph host of the ${profile.label} cloud)`,
        });
      } else if (segments.length !== 1 || !GRAPH_VERSIONS.has(segments[0] ?? '')) {
        errors.push({ field: 'graphApiEndpoint', message: 'must end with the API version: /v1.0 or /beta' });
      } else {
        graphApiEndpoint = `${url.origin}/${segments[0]}`;
      }
    }
  }

  let scopes = defaults.scopes;
  if (input.scopes !== undefined) {
    const problem = scopesProblem(input.scopes, profile.graphHosts, allowedDevHosts);
    if (problem) errors.push({ field: 'scopes', message: problem });
    else scopes = input.scopes.trim();
  }

  if (errors.length > 0) throw validationFailed(errors);
  return { cloud, authorityUrl, graphApiEndpoint, scopes };
}

function authorityProblem(
  url: URL,
  tenantId: string,
  cloud: Cloud,
  allowedDevHosts: readonly string[],
): string | undefined {
  const profile = CLOUD_PROFILES[cloud];
  if (!isMicrosoftHostOf(url, profile.authorityHosts) && !isAllowedDevHost(url, allowedDevHosts)) {
    return `must be on ${profile.authorityHosts[0]} (the Entra ID host of the ${profile.label} cloud)`;
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const tenant = segments[0];
  if (segments.length !== 1 || tenant === undefined) {
    return 'must be the host followed by the tenant only, e.g. https://login.microsoftonline.com/{tenantId}';
  }
  if (MULTI_TENANT_SEGMENTS.has(tenant.toLowerCase())) {
    return 'must name the tenant (its id or domain), not common/organizations/consumers';
  }
  if (GUID.test(tenant)) {
    return tenant.toLowerCase() === tenantId.toLowerCase() ? undefined : 'must name the same tenant as tenantId';
  }
  return DOMAIN.test(tenant) ? undefined : 'must end with the tenant id or a verified domain of the tenant';
}

function scopesProblem(
  raw: string,
  graphHosts: readonly string[],
  allowedDevHosts: readonly string[],
): string | undefined {
  const scopes = raw.trim().split(/\s+/).filter(Boolean);
  if (scopes.length !== 1) return 'must be exactly one `<graph resource>/.default` scope (client credentials)';
  const checked = parseHttpsUrl(scopes[0] ?? '');
  if (!checked.ok || checked.url.pathname !== '/.default') {
    return 'must be the Graph resource followed by /.default, e.g. https://graph.microsoft.com/.default';
  }
  if (!isMicrosoftHostOf(checked.url, graphHosts) && !isAllowedDevHost(checked.url, allowedDevHosts)) {
    return `must be for ${graphHosts.join(' or ')} (this cloud's Microsoft Graph)`;
  }
  return undefined;
}

/**
 * Re-checks a stored principal's endpoints right before a credential or token is sent (a record edited
 * outside the API, or a narrowed ALLOWED_DEV_HOSTS, must not leak the credential). Throws VALIDATION_FAILED.
 */
export function assertEndpointsSafe(
  principal: { tenantId: string; cloud: Cloud; authorityUrl: string; graphApiEndpoint: string; scopes: string },
  allowedDevHosts: readonly string[],
): void {
  resolveEndpoints(
    {
      tenantId: principal.tenantId,
      cloud: principal.cloud,
      authorityUrl: principal.authorityUrl,
      graphApiEndpoint: principal.graphApiEndpoint,
      scopes: principal.scopes,
    },
    allowedDevHosts,
  );
}

/** True when the URL is https on a Microsoft Graph host of any cloud, or on an allowed dev host. */
export function isKnownGraphUrl(raw: string, allowedDevHosts: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.username || url.password) return false;
  const onMicrosoftGraph = cloudOfGraphHost(url.hostname) !== undefined && (url.port === '' || url.port === '443');
  return onMicrosoftGraph || isAllowedDevHost(url, allowedDevHosts);
}
