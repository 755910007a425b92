/**
 * The simulated Entra ID directory: tenants (id + verified domains), app registrations with their
 * credentials, one service principal per tenant that consented to an app (granted roles, mailbox scope),
 * and users / shared mailboxes.
 *
 * As in Entra, an application's credentials (secrets, certificates, federated credentials) belong to the
 * app registration and work in every tenant that has a service principal for it; granted application
 * permissions and mailbox scope are per tenant.
 */
import { X509Certificate, createHash, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { SimHttpError, type SimUser } from './contract';

export interface SimTenant {
  id: string;
  displayName: string;
  /** The primary verified domain (`contoso.com` or `contoso.onmicrosoft.com`). */
  domain: string;
  /** Every verified domain, lower-cased (the initial `*.onmicrosoft.com` one included). */
  domains: string[];
}

export interface AppSecret {
  id: string;
  /** SHA-256 of the value: the value itself is only returned once, at creation. */
  hash: string;
  hint: string;
  expiresAt: string;
}

export interface AppCertificate {
  id: string;
  /** SHA-1 thumbprint, upper-case hex (what the portal shows). */
  thumbprint: string;
  thumbprintSha256: string;
  /** base64url SHA-1 / SHA-256 of the DER certificate: the `x5t` / `x5t#S256` JWT header values. */
  x5t: string;
  x5tS256: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

export interface FederatedIssuer {
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface SimApplication {
  appId: string;
  displayName: string;
  homeTenantId: string;
  secrets: AppSecret[];
  certificates: AppCertificate[];
  federatedIssuers: FederatedIssuer[];
}

export interface SimServicePrincipal {
  tenantId: string;
  appId: string;
  /** Object id of the service principal in this tenant (the `oid` / `sub` of its app tokens). */
  objectId: string;
  roles: string[];
  /** Mailboxes (UPN, mail or id, lower-cased) the app may access in this tenant; null: all. */
  mailboxScope: string[] | null;
}

export interface CreatedSecret {
  id: string;
  value: string;
  expiresAt: string;
}

export interface CertificateSummary {
  id: string;
  thumbprint: string;
  thumbprintSha256: string;
  expiresAt: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const USER_PURPOSES = ['user', 'shared', 'room', 'equipment', 'linked', 'others'] as const;
/** Entra's default client secret lifetime is 180 days; the portal offers up to 24 months. */
const DEFAULT_SECRET_DAYS = 180;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

function badRequest(message: string): never {
  throw new SimHttpError(400, 'BadRequest', message);
}

function notFound(message: string): never {
  throw new SimHttpError(404, 'NotFound', message);
}

function conflict(message: string): never {
  throw new SimHttpError(409, 'Conflict', message);
}

export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A value shaped like an Entra client secret: 3 hint characters, `8Q~`, 34 more (40 in all). */
function generateSecretValue(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~';
  const bytes = randomBytes(37);
  const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
  return `${chars.slice(0, 3)}8Q~${chars.slice(3)}`;
}

export function parseCertificate(pem: string): AppCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    return badRequest(`certificatePem is not a PEM X.509 certificate (${(error as Error).message})`);
  }
  const sha1 = createHash('sha1').update(cert.raw).digest();
  const sha256 = createHash('sha256').update(cert.raw).digest();
  if (cert.publicKey.asymmetricKeyType !== 'rsa') badRequest('certificatePem must hold an RSA public key');
  return {
    id: randomUUID(),
    thumbprint: sha1.toString('hex').toUpperCase(),
    thumbprintSha256: sha256.toString('hex').toUpperCase(),
    x5t: sha1.toString('base64url'),
    x5tS256: sha256.toString('base64url'),
    publicKey: cert.publicKey,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
  };
}

export function certificateSummary(cert: AppCertificate): CertificateSummary {
  return {
    id: cert.id,
    thumbprint: cert.thumbprint,
    thumbprintSha256: cert.thumbprintSha256,
    expiresAt: cert.notAfter.toISOString(),
  };
}

export interface TenantInput {
  id?: string;
  displayName: string;
  domain?: string;
}

export interface AppInput {
  appId?: string;
  displayName: string;
  roles: string[];
  mailboxScope?: string[] | null;
  secrets?: { value?: string; expiresAt?: string }[];
  certificates?: { certificatePem: string }[];
  federatedIssuers?: { issuer: string; subject: string; audiences?: string[] }[];
}

export interface UserInput {
  id?: string;
  userPrincipalName: string;
  mail?: string;
  displayName?: string;
  userPurpose?: SimUser['userPurpose'];
  mailboxEnabled?: boolean;
}

export class Directory {
  private tenants = new Map<string, SimTenant>();
  /** lower-cased domain → tenant id */
  private domains = new Map<string, string>();
  private apps = new Map<string, SimApplication>();
  /** `${tenantId}|${appId}` */
  private principals = new Map<string, SimServicePrincipal>();
  /** tenant id → user id → user */
  private users = new Map<string, Map<string, SimUser>>();
  /** lower-cased UPN or mail → user (UPNs and addresses are unique across the simulated cloud) */
  private addresses = new Map<string, SimUser>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  reset(): void {
    this.tenants = new Map();
    this.domains = new Map();
    this.apps = new Map();
    this.principals = new Map();
    this.users = new Map();
    this.addresses = new Map();
  }

  /* ----------------------------------------------- tenants ----------------------------------------------- */

  createTenant(input: TenantInput): SimTenant {
    const id = (input.id ?? randomUUID()).toLowerCase();
    if (!isGuid(id)) badRequest(`Tenant id '${input.id}' must be a GUID.`);
    if (this.tenants.has(id)) conflict(`Tenant '${id}' already exists.`);
    const slug =
      input.displayName
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .slice(0, 27) || 'tenant';
    let initial = `${slug}.onmicrosoft.com`;
    for (let n = 2; this.domains.has(initial); n++) initial = `${slug}${n}.onmicrosoft.com`;
    const domains = [initial];
    if (input.domain !== undefined) {
      const custom = input.domain.toLowerCase();
      if (!DOMAIN.test(custom)) badRequest(`domain '${input.domain}' is not a valid DNS name.`);
      if (this.domains.has(custom)) conflict(`Domain '${custom}' is already verified in another tenant.`);
      if (custom !== initial) domains.unshift(custom);
    }
    const tenant: SimTenant = { id, displayName: input.displayName, domain: domains[0] ?? initial, domains };
    this.tenants.set(id, tenant);
    for (const domain of domains) this.domains.set(domain, id);
    this.users.set(id, new Map());
    return tenant;
  }

  /** By tenant id or any verified domain (case-insensitive). */
  findTenant(idOrDomain: string): SimTenant | undefined {
    const key = idOrDomain.toLowerCase();
    const byId = this.tenants.get(key);
    if (byId) return byId;
    const id = this.domains.get(key);
    return id === undefined ? undefined : this.tenants.get(id);
  }

  listTenants(): SimTenant[] {
    return [...this.tenants.values()];
  }

  requireTenant(idOrDomain: string): SimTenant {
    return this.findTenant(idOrDomain) ?? notFound(`Tenant '${idOrDomain}' does not exist in the simulator.`);
  }

  /* ------------------------------------------------ apps ------------------------------------------------- */

  /**
   * Registers an app in a tenant (or, for an existing appId, consents it in one more tenant: a new service
   * principal). Credentials given here are added to the app registration.
   */
  createApp(
    tenantRef: string,
    input: AppInput,
  ): { appId: string; tenantId: string; secrets: CreatedSecret[]; certificates: CertificateSummary[] } {
    const tenant = this.requireTenant(tenantRef);
    const appId = (input.appId ?? randomUUID()).toLowerCase();
    if (!isGuid(appId)) badRequest(`appId '${input.appId}' must be a GUID.`);
    if (this.principals.has(`${tenant.id}|${appId}`))
      conflict(`App '${appId}' already exists in tenant '${tenant.id}'.`);
    // Parse everything before changing state, so a bad certificate leaves nothing half-created.
    const certificates = (input.certificates ?? []).map((c) => parseCertificate(c.certificatePem));
    const federated = (input.federatedIssuers ?? []).map((f) => ({
      issuer: f.issuer,
      subject: f.subject,
      audiences: f.audiences ?? ['api://AzureADTokenExchange'],
    }));
    const secretInputs = input.secrets ?? [];
    secretInputs.forEach((s) => this.validateSecretInput(s));
    let app = this.apps.get(appId);
    if (!app) {
      app = {
        appId,
        displayName: input.displayName,
        homeTenantId: tenant.id,
        secrets: [],
        certificates: [],
        federatedIssuers: [],
      };
      this.apps.set(appId, app);
    }
    app.certificates.push(...certificates);
    app.federatedIssuers.push(...federated);
    const secrets = secretInputs.map((s) => this.pushSecret(app, s));
    this.principals.set(`${tenant.id}|${appId}`, {
      tenantId: tenant.id,
      appId,
      objectId: randomUUID(),
      roles: [...new Set(input.roles)],
      mailboxScope: normaliseScope(input.mailboxScope),
    });
    return { appId, tenantId: tenant.id, secrets, certificates: certificates.map(certificateSummary) };
  }

  updateApp(
    tenantRef: string,
    appId: string,
    update: { roles?: string[]; mailboxScope?: string[] | null },
  ): SimServicePrincipal {
    const principal = this.requirePrincipal(tenantRef, appId);
    if (update.roles !== undefined) principal.roles = [...new Set(update.roles)];
    if (update.mailboxScope !== undefined) principal.mailboxScope = normaliseScope(update.mailboxScope);
    return principal;
  }

  /** Removes the app's service principal from the tenant (and the registration with its last one). */
  deleteApp(tenantRef: string, appId: string): void {
    const principal = this.requirePrincipal(tenantRef, appId);
    this.principals.delete(`${principal.tenantId}|${principal.appId}`);
    const stillUsed = [...this.principals.values()].some((p) => p.appId === principal.appId);
    if (!stillUsed) this.apps.delete(principal.appId);
  }

  addSecret(tenantRef: string, appId: string, input: { value?: string; expiresAt?: string }): CreatedSecret {
    const principal = this.requirePrincipal(tenantRef, appId);
    this.validateSecretInput(input);
    const app = this.apps.get(principal.appId);
    if (!app) return notFound(`App '${appId}' does not exist.`);
    return this.pushSecret(app, input);
  }

  deleteSecret(tenantRef: string, appId: string, secretId: string): void {
    const principal = this.requirePrincipal(tenantRef, appId);
    const app = this.apps.get(principal.appId);
    const index = app?.secrets.findIndex((s) => s.id === secretId.toLowerCase()) ?? -1;
    if (!app || index < 0) notFound(`Secret '${secretId}' does not exist on app '${appId}'.`);
    app.secrets.splice(index, 1);
  }

  addCertificate(tenantRef: string, appId: string, certificatePem: string): CertificateSummary {
    const principal = this.requirePrincipal(tenantRef, appId);
    const app = this.apps.get(principal.appId);
    if (!app) return notFound(`App '${appId}' does not exist.`);
    const cert = parseCertificate(certificatePem);
    app.certificates.push(cert);
    return certificateSummary(cert);
  }

  getApp(appId: string): SimApplication | undefined {
    return this.apps.get(appId.toLowerCase());
  }

  getPrincipal(tenantId: string, appId: string): SimServicePrincipal | undefined {
    return this.principals.get(`${tenantId.toLowerCase()}|${appId.toLowerCase()}`);
  }

  private requirePrincipal(tenantRef: string, appId: string): SimServicePrincipal {
    const tenant = this.requireTenant(tenantRef);
    return this.getPrincipal(tenant.id, appId) ?? notFound(`App '${appId}' does not exist in tenant '${tenant.id}'.`);
  }

  private validateSecretInput(input: { value?: string; expiresAt?: string }): void {
    if (input.value !== undefined && input.value.length < 16)
      badRequest('A secret value needs at least 16 characters.');
    if (input.expiresAt !== undefined && Number.isNaN(Date.parse(input.expiresAt))) {
      badRequest(`expiresAt '${input.expiresAt}' is not an ISO date.`);
    }
  }

  private pushSecret(app: SimApplication, input: { value?: string; expiresAt?: string }): CreatedSecret {
    const value = input.value ?? generateSecretValue();
    const expiresAt = new Date(
      input.expiresAt ?? this.now().getTime() + DEFAULT_SECRET_DAYS * 24 * 3600 * 1000,
    ).toISOString();
    const id = randomUUID();
    app.secrets.push({ id, hash: hashSecret(value), hint: value.slice(0, 3), expiresAt });
    return { id, value, expiresAt };
  }

  /* ------------------------------------------------ users ------------------------------------------------ */

  createUser(tenantRef: string, input: UserInput): SimUser {
    const tenant = this.requireTenant(tenantRef);
    const upn = input.userPrincipalName.trim();
    const at = upn.lastIndexOf('@');
    if (at <= 0 || at === upn.length - 1) badRequest(`userPrincipalName '${upn}' must look like alias@domain.`);
    const domain = upn.slice(at + 1).toLowerCase();
    if (!tenant.domains.includes(domain)) {
      badRequest(
        `The domain of userPrincipalName '${upn}' is not a verified domain of tenant '${tenant.id}' ` +
          `(verified: ${tenant.domains.join(', ')}).`,
      );
    }
    const mail = (input.mail ?? upn).trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(mail)) badRequest(`mail '${mail}' is not an e-mail address.`);
    const id = (input.id ?? randomUUID()).toLowerCase();
    if (!isGuid(id)) badRequest(`User id '${input.id}' must be a GUID.`);
    if (input.userPurpose !== undefined && !USER_PURPOSES.includes(input.userPurpose)) {
      badRequest(`userPurpose must be one of ${USER_PURPOSES.join(', ')}.`);
    }
    for (const address of new Set([upn.toLowerCase(), mail.toLowerCase()])) {
      if (this.addresses.has(address)) conflict(`A user with address '${address}' already exists.`);
    }
    if (this.findUserById(id)) conflict(`A user with id '${id}' already exists.`);
    const user: SimUser = {
      id,
      tenantId: tenant.id,
      userPrincipalName: upn,
      mail,
      displayName: input.displayName ?? upn.slice(0, at),
      userPurpose: input.userPurpose ?? 'user',
      mailboxEnabled: input.mailboxEnabled ?? true,
    };
    this.users.get(tenant.id)?.set(id, user);
    this.addresses.set(upn.toLowerCase(), user);
    this.addresses.set(mail.toLowerCase(), user);
    return user;
  }

  updateUser(
    tenantRef: string,
    idOrUpn: string,
    update: { displayName?: string; userPurpose?: SimUser['userPurpose']; mailboxEnabled?: boolean },
  ): SimUser {
    const tenant = this.requireTenant(tenantRef);
    const user = this.getUser(tenant.id, idOrUpn) ?? notFound(`User '${idOrUpn}' does not exist in '${tenant.id}'.`);
    if (update.displayName !== undefined) user.displayName = update.displayName;
    if (update.userPurpose !== undefined) user.userPurpose = update.userPurpose;
    if (update.mailboxEnabled !== undefined) user.mailboxEnabled = update.mailboxEnabled;
    return user;
  }

  deleteUser(tenantRef: string, idOrUpn: string): SimUser {
    const tenant = this.requireTenant(tenantRef);
    const user = this.getUser(tenant.id, idOrUpn) ?? notFound(`User '${idOrUpn}' does not exist in '${tenant.id}'.`);
    this.users.get(tenant.id)?.delete(user.id);
    this.addresses.delete(user.userPrincipalName.toLowerCase());
    this.addresses.delete(user.mail.toLowerCase());
    return user;
  }

  /** A user of the tenant by id, UPN or primary address (case-insensitive). */
  getUser(tenantId: string, idOrUpn: string): SimUser | undefined {
    const key = idOrUpn.toLowerCase();
    const users = this.users.get(tenantId.toLowerCase());
    if (!users) return undefined;
    const byId = users.get(key);
    if (byId) return byId;
    const byAddress = this.addresses.get(key);
    return byAddress && byAddress.tenantId === tenantId.toLowerCase() ? byAddress : undefined;
  }

  /** Any user of any tenant by UPN or address (case-insensitive). */
  findByAddress(address: string): SimUser | undefined {
    return this.addresses.get(address.trim().toLowerCase());
  }

  listUsers(tenantId: string): SimUser[] {
    return [...(this.users.get(tenantId.toLowerCase())?.values() ?? [])];
  }

  private findUserById(id: string): SimUser | undefined {
    for (const users of this.users.values()) {
      const user = users.get(id);
      if (user) return user;
    }
    return undefined;
  }

  /** Is the mailbox inside the app's mailbox scope in its tenant? (No service principal: not in scope.) */
  inMailboxScope(principal: SimServicePrincipal | undefined, user: SimUser): boolean {
    if (!principal) return false;
    if (principal.mailboxScope === null) return true;
    const keys = [user.id, user.userPrincipalName.toLowerCase(), user.mail.toLowerCase()];
    return principal.mailboxScope.some((entry) => keys.includes(entry));
  }
}

function normaliseScope(scope: string[] | null | undefined): string[] | null {
  if (scope === undefined || scope === null) return null;
  return [...new Set(scope.map((s) => s.trim().toLowerCase()))];
}
