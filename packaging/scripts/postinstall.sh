#!/bin/sh
# postinst of every edgetrust service package (packaging/scripts): create the
# service's system user from its sysusers.d file and its state directory from
# its tmpfiles.d file, reload systemd, and restart the service on an upgrade
# if it was running. The service is not enabled or started on a first
# install: each needs configuration (a passphrase, an enrolment, devices)
# first; see /usr/share/doc/<package>/packaging.md.
set -e
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?postinst: run by dpkg}"
root="${DPKG_ROOT:-}"

create_user() {
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers ${root:+--root="$root"} "$pkg.conf"
		return
	fi
	# No systemd-sysusers (a container without systemd): the same user by hand.
	if [ -n "$root" ]; then
		echo "$pkg: installing into DPKG_ROOT=$root needs systemd-sysusers" >&2
		exit 1
	fi
	conf="$root/usr/lib/sysusers.d/$pkg.conf"
	getent group "$pkg" >/dev/null || addgroup --system "$pkg" >/dev/null
	getent passwd "$pkg" >/dev/null || adduser --system --ingroup "$pkg" \
		--home "/var/lib/$pkg" --no-create-home --shell /usr/sbin/nologin "$pkg" >/dev/null
	for g in $(awk -v u="$pkg" '$1 == "m" && $2 == u { print $3 }' "$conf"); do
		getent group "$g" >/dev/null || addgroup --system "$g" >/dev/null
		adduser "$pkg" "$g" >/dev/null
	done
}

case "$1" in
configure)
	create_user
	# The state directory, before the first start (tmpfiles.d).
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create ${root:+--root="$root"} "$pkg.conf"
	else
		install -d -o "$pkg" -g "$pkg" -m 0700 "$root/var/lib/$pkg"
	fi
	# Only on a live host with systemd: not into a DPKG_ROOT, not in a container.
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		# $2 is the version being upgraded from; empty on a first install.
		if [ -n "$2" ]; then
			systemctl try-restart "$pkg.service" || true
		fi
	fi
	;;
esac
exit 0
