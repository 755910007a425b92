#!/usr/bin/env node
// Generates the local stand-ins' self-signed TLS certificate once (.local/tls/{cert,key}.pem) and reuses it.
// Plain JavaScript so npm scripts can run it before anything is built. The key is never committed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createSelfSignedCertificate } = require('./self-signed-certificate');

const dir = path.resolve(__dirname, '..', '..', '.local', 'tls');
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
if (!(fs.existsSync(cert) && fs.existsSync(key))) {
  fs.mkdirSync(dir, { recursive: true });
  const made = createSelfSignedCertificate({
    days: 3650,
    subject: '/CN=localhost',
    extensions: ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:TRUE'],
  });
  fs.writeFileSync(key, made.keyPem, { mode: 0o600 });
  fs.chmodSync(key, 0o600);
  fs.writeFileSync(cert, made.certPem);
}
