// Verifies compact JWS values (one per line on stdin) the way an independent
// SBI server would: RS256 only, with the public key of the x5c[0] certificate.
// Prints "ok <n>" or fails with the first error. Test tool; not shipped.
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import { readFileSync } from 'node:fs';

const lines = readFileSync(0, 'utf8').split('\n').filter(Boolean);
let n = 0;
for (const jws of lines) {
  const h = decodeProtectedHeader(jws);
  if (h.alg !== 'RS256') throw new Error(`alg ${h.alg}, want RS256`);
  if (!Array.isArray(h.x5c) || h.x5c.length < 1) throw new Error('no x5c array');
  const pem = `-----BEGIN CERTIFICATE-----\n${h.x5c[0].match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----`;
  const key = await importX509(pem, 'RS256');
  const { payload } = await compactVerify(jws, key, { algorithms: ['RS256'] });
  JSON.parse(new TextDecoder().decode(payload));
  n++;
}
console.log(`ok ${n}`);
