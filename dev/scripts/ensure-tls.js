#!/usr/bin/env node
// Generates the local stand-ins' self-signed TLS certificate once (.local/tls/{cert,key}.pem) and reuses it.
// Plain JavaScript so npm scripts can run it before anything is built. The key is never committed.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.resolve(__dirname, '..', '..', '.local', 'tls');
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
if (!(fs.existsSync(cert) && fs.existsSync(key))) {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '3650',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ],
    { stdio: 'ignore' },
  );
  fs.chmodSync(key, 0o600);
}
