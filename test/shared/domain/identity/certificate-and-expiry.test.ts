import { X509Certificate, createHash } from 'node:crypto';
import { isAppError } from '../../../../shared/errors';
import {
  credentialExpiry,
  credentialWarning,
  parseCertificatePem,
  privateKeyPemOf,
} from '../../../../shared/domain/identity';
import { makeCertificate } from '../../../support/certificates';

const NOW = new Date('2026-11-22T10:00:00.000Z');

function validationMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isAppError(error, 'VALIDATION_FAILED')) return error.errors?.[0]?.message ?? '';
    throw error;
  }
  throw new Error('expected VALIDATION_FAILED');
}

describe('parseCertificatePem', () => {
  const cert = makeCertificate({ days: 400 });

  it('computes the SHA-256 thumbprint and expiry, and stores key + certificate', () => {
    const parsed = parseCertificatePem(cert.combinedPem, new Date());
    const der = new X509Certificate(cert.certPem).raw;
    expect(parsed.thumbprintSha256).toBe(createHash('sha256').update(der).digest('hex').toUpperCase());
    expect(parsed.notAfter.getTime()).toBe(new Date(new X509Certificate(cert.certPem).validTo).getTime());
    expect(parsed.pem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(parsed.pem).toContain('-----BEGIN CERTIFICATE-----');
    expect(privateKeyPemOf(parsed.pem)).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('accepts the certificate before the key too', () => {
    expect(parseCertificatePem(`${cert.certPem}${cert.keyPem}`, new Date()).thumbprintSha256).toMatch(/^[0-9A-F]{64}$/);
  });

  it('rejects a missing key, a missing certificate, a foreign key, an EC key and an expired certificate', () => {
    const other = makeCertificate();
    const ec = makeCertificate({ keyType: 'ec' });
    expect(validationMessage(() => parseCertificatePem(cert.certPem, NOW))).toMatch(/private key/);
    expect(validationMessage(() => parseCertificatePem(cert.keyPem, NOW))).toMatch(/CERTIFICATE/);
    expect(validationMessage(() => parseCertificatePem(`${other.keyPem}${cert.certPem}`, new Date()))).toMatch(
      /does not belong/,
    );
    expect(validationMessage(() => parseCertificatePem(ec.combinedPem, new Date()))).toMatch(/RSA/);
    const future = new Date(Date.now() + 500 * 24 * 3600 * 1000);
    expect(validationMessage(() => parseCertificatePem(cert.combinedPem, future))).toMatch(/expired/);
  });

  it('never quotes the PEM in its errors', () => {
    const garbled = cert.combinedPem.replace(
      /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/]{10}/,
      '-----BEGIN CERTIFICATE-----\n!!!!!!!!!!',
    );
    const message = validationMessage(() => parseCertificatePem(garbled, new Date()));
    expect(message).not.toContain('PRIVATE KEY-----\n');
    expect(message.length).toBeLessThan(200);
  });
});

describe('credential expiry warnings', () => {
  const ref = { name: 'sp-x', version: 'v1' };
  const day = 24 * 3600 * 1000;
  const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

  it('warns within 30 days, not before', () => {
    expect(credentialExpiry({ kind: 'clientSecret', secretRef: ref, expiresAt: at(31 * day) }, NOW)).toBeUndefined();
    expect(credentialExpiry({ kind: 'clientSecret', secretRef: ref, expiresAt: at(30 * day) }, NOW)).toMatchObject({
      daysLeft: 30,
      expired: false,
      credentialKind: 'clientSecret',
    });
    expect(credentialWarning({ kind: 'clientSecret', secretRef: ref, expiresAt: at(9 * day + 3600_000) }, NOW)).toMatch(
      /client secret expires on 2026-12-01 \(in 9 days\)/,
    );
  });

  it('says when it has expired', () => {
    const expiry = credentialExpiry(
      { kind: 'certificate', secretRef: ref, thumbprintSha256: 'A'.repeat(64), expiresAt: at(-2 * day) },
      NOW,
    );
    expect(expiry).toMatchObject({ expired: true, daysLeft: -2 });
    expect(expiry?.message).toMatch(/certificate expired on 2026-11-20/);
  });

  it('has nothing to say without an expiry or for federated credentials', () => {
    expect(credentialExpiry({ kind: 'clientSecret', secretRef: ref }, NOW)).toBeUndefined();
    expect(credentialExpiry({ kind: 'federated', audience: 'api://AzureADTokenExchange' }, NOW)).toBeUndefined();
  });
});
