/**
 * Certificate credentials: the admin uploads one PEM holding the certificate and its private key. We keep
 * the whole PEM in Key Vault and only the SHA-256 thumbprint and expiry in Cosmos.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { validationFailed } from '../../errors';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/;

export interface ParsedCertificate {
  /** Hex SHA-256 of the DER certificate (what Entra ID shows and MSAL sends as `x5t#S256`). */
  thumbprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  /** The normalised PEM to store: the PKCS#8 private key followed by the certificate. */
  pem: string;
}

/**
 * Parses an uploaded PEM. VALIDATION_FAILED (field `field`) when it lacks a certificate or an unencrypted
 * RSA private key, when the key does not belong to the certificate, or when the certificate has expired.
 * Messages never quote the PEM.
 */
export function parseCertificatePem(raw: string, now: Date, field = 'certificate.pem'): ParsedCertificate {
  const fail = (message: string): never => {
    throw validationFailed([{ field, message }]);
  };
  const certBlock = CERT_BLOCK.exec(raw)?.[0] ?? fail('must contain a -----BEGIN CERTIFICATE----- block');
  const keyMatch = KEY_BLOCK.exec(raw) ?? fail('must contain the private key (-----BEGIN PRIVATE KEY----- block)');
  if (keyMatch[1] === 'ENCRYPTED ') fail('the private key must not be password-protected');

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certBlock);
  } catch {
    return fail('the certificate could not be read');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyMatch[0]);
  } catch {
    return fail('the private key could not be read');
  }
  if (key.asymmetricKeyType !== 'rsa') fail('the private key must be an RSA key (Entra ID signs assertions with RSA)');
  if (!certificate.checkPrivateKey(key)) fail('the private key does not belong to the certificate');

  const notAfter = new Date(certificate.validTo);
  const notBefore = new Date(certificate.validFrom);
  if (notAfter.getTime() <= now.getTime()) fail(`the certificate expired on ${notAfter.toISOString()}`);

  const privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    thumbprintSha256: certificate.fingerprint256.replace(/:/g, '').toUpperCase(),
    notBefore,
    notAfter,
    subject: certificate.subject,
    pem: `${privateKeyPem.trim()}\n${certificate.toString().trim()}\n`,
  };
}

/** The PKCS#8 private key block of a stored PEM (what MSAL's `clientCertificate.privateKey` takes). */
export function privateKeyPemOf(storedPem: string): string | undefined {
  const match = KEY_BLOCK.exec(storedPem);
  if (!match || match[1] === 'ENCRYPTED ') return undefined;
  try {
    return createPrivateKey(match[0]).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    return undefined;
  }
}
