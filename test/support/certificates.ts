/** Self-signed test certificates made with the system's openssl (never committed). */
import { X509Certificate, createHash } from 'node:crypto';
import { createSelfSignedCertificate } from '../../dev/scripts/self-signed-certificate';

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  /** Key followed by certificate: what an admin uploads. */
  combinedPem: string;
  /** Hex, upper case, of the DER certificate (what Entra ID shows and MSAL's `thumbprint` takes). */
  thumbprintSha1: string;
  thumbprintSha256: string;
}

export function makeCertificate(options: { days?: number; keyType?: 'rsa' | 'ec'; cn?: string } = {}): TestCertificate {
  const { certPem, keyPem } = createSelfSignedCertificate({
    days: options.days ?? 365,
    subject: `/CN=${options.cn ?? 'm365-mail-sync test'}`,
    ...(options.keyType ? { keyType: options.keyType } : {}),
  });
  const der = new X509Certificate(certPem).raw;
  return {
    certPem,
    keyPem,
    combinedPem: `${keyPem}${certPem}`,
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}
