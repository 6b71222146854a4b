#!/bin/sh
# prerm of every edgetrust service package (packaging/scripts): stop the
# service before its files go. On an upgrade it keeps running until the new
# postinst restarts it.
set -e
root="${DPKG_ROOT:-}"
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?prerm: run by dpkg}"
case "$1" in
remove|deconfigure)
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl stop "$pkg.service" || true
	fi
	;;
esac
exit 0
