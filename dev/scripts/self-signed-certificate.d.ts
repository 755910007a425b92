/** Types of `self-signed-certificate.js` (plain JavaScript, so npm scripts can run it before anything is built). */
export interface SelfSignedCertificateOptions {
  /** Validity in days (default 365). */
  days?: number;
  /** openssl `-subj` (default `/CN=localhost`). */
  subject?: string;
  /** RSA 2048 (default) or EC P-256. */
  keyType?: 'rsa' | 'ec';
  /** openssl `-addext` values, e.g. `subjectAltName=DNS:localhost,IP:127.0.0.1`. */
  extensions?: string[];
}

export function createSelfSignedCertificate(options?: SelfSignedCertificateOptions): {
  certPem: string;
  keyPem: string;
};
