// Package packaging holds the Debian packaging of edgetrust: one nfpm config
// per package (packaging/<part>/nfpm.yaml), the hardened systemd units, the
// sysusers.d users, the conffiles installed under /etc/edgetrust and the
// maintainer scripts they share (packaging/scripts). `make package` builds
// bin/*.deb from them; docs/packaging.md says how to install and run them.
//
// The Go package has no code of its own: its test builds the binaries, runs
// nfpm, and checks each .deb with dpkg-deb (files, modes, conffiles,
// dependencies, maintainer scripts), lays it out in a scratch root, checks
// each unit with systemd-analyze verify and security, and starts each daemon
// on its conffile. It imports nothing from the module: it runs the daemons as
// programs, as systemd would.
package packaging
