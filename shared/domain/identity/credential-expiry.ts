/**
 * Secrets expire silently (24 months at most) and then break every mailbox of the tenant at once, so a
 * credential expiring within 30 days raises a warning on the principal and in /api/health.
 */
import type { Credential } from '../records';

export const CREDENTIAL_WARNING_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export interface CredentialExpiry {
  credentialKind: Credential['kind'];
  expiresAt: string;
  /** Whole days left (negative once expired). */
  daysLeft: number;
  expired: boolean;
  /** Human text for the portal and logs. */
  message: string;
}

const LABEL: Record<Credential['kind'], string> = {
  clientSecret: 'client secret',
  certificate: 'certificate',
  federated: 'federated credential',
};

const REMEDY: Record<Credential['kind'], string> = {
  clientSecret:
    'Create a new client secret in Entra ID (App registrations > Certificates & secrets) and enter it on this service principal.',
  certificate:
    'Upload a new certificate to the app registration in Entra ID and to this service principal before the old one expires.',
  federated: 'Renew the federated credential in Entra ID.',
};

/** The credential's expiry when it is known and falls within `CREDENTIAL_WARNING_DAYS` of `now` (or has passed). */
export function credentialExpiry(credential: Credential, now: Date): CredentialExpiry | undefined {
  if (credential.kind === 'federated' || credential.expiresAt === undefined) return undefined;
  const expiresAt = new Date(credential.expiresAt);
  const msLeft = expiresAt.getTime() - now.getTime();
  if (msLeft > CREDENTIAL_WARNING_DAYS * DAY_MS) return undefined;
  const expired = msLeft <= 0;
  const daysLeft = expired ? -Math.ceil(-msLeft / DAY_MS) : Math.floor(msLeft / DAY_MS);
  const day = expiresAt.toISOString().slice(0, 10);
  const label = LABEL[credential.kind];
  const when = expired
    ? `The ${label} expired on ${day}; token requests fail until it is replaced.`
    : `The ${label} expires on ${day} (${daysLeft === 0 ? 'today' : `in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`}).`;
  return {
    credentialKind: credential.kind,
    expiresAt: expiresAt.toISOString(),
    daysLeft,
    expired,
    message: `${when} ${REMEDY[credential.kind]}`,
  };
}

/** The text stored in `credentialWarning` (undefined: no warning). */
export function credentialWarning(credential: Credential, now: Date): string | undefined {
  return credentialExpiry(credential, now)?.message;
}
