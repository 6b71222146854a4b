// Reads QR texts, one per line, from stdin; for each prints "ok <hex>" with
// the bytes pixelpass's own pipeline inflates (base45-web, then pako, as
// its decode() does), after checking that decode() itself does not throw;
// or "error <message>".
const pp = require('@mosip/pixelpass');
const b45 = require('base45-web');
const pako = require('pako');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
for (const text of lines) {
  try {
    pp.decode(text);
    const raw = pako.inflate(b45.decode(text));
    console.log('ok ' + Buffer.from(raw).toString('hex'));
  } catch (e) {
    console.log('error ' + String(e.message).replace(/\s+/g, ' '));
  }
}
