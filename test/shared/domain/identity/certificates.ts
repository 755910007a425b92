/** Self-signed test certificates made with the system's openssl (never committed). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  /** Key followed by certificate: what an admin uploads. */
  combinedPem: string;
}

export function makeCertificate(options: { days?: number; keyType?: 'rsa' | 'ec'; cn?: string } = {}): TestCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-cert-'));
  try {
    const keyPath = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    const newkey =
      options.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...newkey,
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        String(options.days ?? 365),
        '-subj',
        `/CN=${options.cn ?? 'm365-mail-sync test'}`,
      ],
      { stdio: 'ignore' },
    );
    const certPem = fs.readFileSync(certPath, 'utf8');
    const keyPem = fs.readFileSync(keyPath, 'utf8');
    return { certPem, keyPem, combinedPem: `${keyPem}${certPem}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
