// A fresh self-signed X.509 certificate and its private key (PEM), made with the system's openssl in a private
// temporary folder that is removed at once. Plain JavaScript so `ensure-tls.js` can use it before anything is
// built; tests use it through `test/support/certificates.ts`. Types: `self-signed-certificate.d.ts`.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function createSelfSignedCertificate(options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'self-signed-'));
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
        options.subject ?? '/CN=localhost',
        ...(options.extensions ?? []).flatMap((extension) => ['-addext', extension]),
      ],
      { stdio: 'ignore' },
    );
    return { certPem: fs.readFileSync(certPath, 'utf8'), keyPem: fs.readFileSync(keyPath, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { createSelfSignedCertificate };
