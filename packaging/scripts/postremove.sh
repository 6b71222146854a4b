#!/bin/sh
# postrm of every edgetrust service package (packaging/scripts): forget the
# unit. The state directory (/var/lib/<package>: keys, stores, audit logs) and
# the system user are kept even on purge: removing a package must never
# destroy key material. Delete them by hand when decommissioning.
set -e
root="${DPKG_ROOT:-}"
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?postrm: run by dpkg}"
case "$1" in
remove|purge)
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
esac
exit 0
