// Package consoleint tests central's admin console (central/console) in a
// real browser: Debian's Chromium through internal/browsertest, with its
// virtual WebAuthn authenticator standing for an admin's passkey. Central
// runs in the test process on a badger store behind a TLS listener named
// localhost (passkeys need a host name).
package consoleint
