package packaging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// maxExposure is the highest `systemd-analyze security --offline=yes`
// exposure any unit may have: 2.0 is the target and inside
// systemd's "OK" band (≤ 2.5 is rated "OK"). docs/packaging.md records the
// measured scores.
const maxExposure = 2.0

const testVersion = "0.0~test1"

// pkg is what one Debian package must hold.
type pkg struct {
	dir     string // packaging/<dir>
	name    string // package, binary and (for a service) unit name
	depends []string
	// A service has a unit, a sysusers.d user, a conffile and maintainer scripts.
	service  bool
	conffile string   // /etc/edgetrust/<component>.json
	groups   []string // SupplementaryGroups= (also sysusers "m" lines)
	// Directives the unit must carry beyond the ones every unit carries.
	unit map[string][]string
}

var pkgs = []pkg{
	{dir: "central", name: "edgetrust-central", service: true, conffile: "/etc/edgetrust/central.json",
		depends: []string{"libc6", "libssl3", "libopenjp2-7"},
		unit: map[string][]string{
			"PrivateDevices": {"yes"}, "PrivateUsers": {"yes"},
			"LoadCredential": {"passphrase:/etc/edgetrust/central.passphrase"},
			"ExecReload":     {"/bin/kill -HUP $MAINPID"},
		}},
	{dir: "appliance", name: "edgetrust-appliance", service: true, conffile: "/etc/edgetrust/appliance.json",
		depends: []string{"libc6", "libssl3", "libopenjp2-7", "libzbar0", "libzxing2", "libstdc++6", "tpm-udev"},
		groups:  []string{"tss"},
		unit: map[string][]string{
			"DevicePolicy": {"closed"}, "DeviceAllow": {"/dev/tpmrm0 rw"},
		}},
	{dir: "agent", name: "edgetrust-agent", service: true, conffile: "/etc/edgetrust/agent.json",
		depends: []string{"libc6", "libssl3", "libopenjp2-7", "tpm-udev"},
		groups:  []string{"tss", "dialout"},
		unit: map[string][]string{
			"DevicePolicy": {"closed"},
			"DeviceAllow":  {"/dev/tpmrm0 rw", "char-ttyUSB rw", "char-ttyACM rw"},
			// The SBI service talks to 127.0.0.1 only.
			"IPAddressAllow": {"localhost"}, "IPAddressDeny": {"any"},
		}},
	{dir: "bridge", name: "edgetrust-bridge", depends: []string{"libc6", "libopenjp2-7"}},
	{dir: "ctk", name: "edgetrust-ctk", depends: []string{"libc6"}},
}

// hardening is what every unit sets (docs/packaging.md explains each).
var hardening = map[string]string{
	"Type": "exec", "Restart": "on-failure", "UMask": "0077",
	"StateDirectoryMode": "0700", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
	"AmbientCapabilities": "", "ProtectSystem": "strict", "ProtectHome": "yes",
	"PrivateTmp": "yes", "ProtectProc": "invisible", "ProcSubset": "pid",
	"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
	"ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
	"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
	"RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
	"MemoryDenyWriteExecute": "yes", "PrivateMounts": "yes", "RemoveIPC": "yes",
	"SystemCallArchitectures": "native", "KeyringMode": "private",
}

// sonamePackage names the Debian package that ships each shared library a
// binary links; a library missing here fails the test, so a new cgo
// dependency cannot ship without its Depends entry.
var sonamePackage = map[string]string{
	"libc.so.6": "libc6", "libm.so.6": "libc6", "libpthread.so.0": "libc6",
	"libdl.so.2": "libc6", "libresolv.so.2": "libc6",
	"libcrypto.so.3": "libssl3", "libssl.so.3": "libssl3",
	"libopenjp2.so.7": "libopenjp2-7",
	"libzbar.so.0":    "libzbar0", "libZXing.so.2": "libzxing2",
	"libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
}

// need finds a tool or skips; with EDGETRUST_REQUIRE_TOOLS=1 (CI) a missing
// tool fails, saying what to install.
func need(t *testing.T, tool, install string) string {
	t.Helper()
	return testtool.Need(t, install, tool)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nfpmVersion is the Makefile's NFPM_VERSION, so make package and this test
// run the same nfpm.
func nfpmVersion(t *testing.T, root string) string {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^NFPM_VERSION\s*\?=\s*(v\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Makefile has no NFPM_VERSION ?= vX.Y.Z line")
	}
	return string(m[1])
}

// TestEveryBinaryPackaged: every binary under */cmd/ has a package entry
// here, a packaging/<dir>/nfpm.yaml, and a place in make package's loop, so
// a new daemon cannot be left out of the packages unnoticed.
func TestEveryBinaryPackaged(t *testing.T) {
	var cmds, dirs, want, wantDirs []string
	found, err := filepath.Glob("../*/cmd/edgetrust-*")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range found {
		cmds = append(cmds, filepath.Base(c))
	}
	yamls, err := filepath.Glob("*/nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range yamls {
		dirs = append(dirs, filepath.Dir(y))
	}
	for _, p := range pkgs {
		want = append(want, p.name)
		wantDirs = append(wantDirs, p.dir)
	}
	if !sameSet(cmds, want) {
		t.Errorf("binaries %q, packages %q", cmds, want)
	}
	if !sameSet(dirs, wantDirs) {
		t.Errorf("packaging/*/nfpm.yaml in %q, packages in %q", dirs, wantDirs)
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`for p in ([a-z ]+); do`).FindSubmatch(mk)
	if m == nil || !sameSet(strings.Fields(string(m[1])), wantDirs) {
		t.Errorf("make package loops over %q, want %q", m, wantDirs)
	}
}

func TestPackages(t *testing.T) {
	need(t, "dpkg-deb", "apt-get install dpkg")
	need(t, "systemd-analyze", "apt-get install systemd")
	goTool := need(t, "go", "Go from https://go.dev/dl/")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")

	// nfpm, as make package runs it (go run pkg@version), installed once.
	nv := nfpmVersion(t, root)
	gobin := filepath.Join(tmp, "gobin")
	cmd := exec.Command(goTool, "install", "github.com/goreleaser/nfpm/v2/cmd/nfpm@"+nv)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		testtool.Missing(t, fmt.Sprintf("nfpm %s (go install failed: %v\n%s)", nv, err, out), "go install github.com/goreleaser/nfpm/v2/cmd/nfpm@"+nv+" (needs the module proxy)")
	}
	nfpm := filepath.Join(gobin, "nfpm")

	args := []string{"build", "-o", bin + "/"}
	for _, p := range pkgs {
		args = append(args, "./"+cmdDir(p)+"/cmd/"+p.name)
	}
	run(t, root, nil, goTool, args...)

	out := filepath.Join(tmp, "deb")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		t.Run(p.name, func(t *testing.T) {
			deb := filepath.Join(out, fmt.Sprintf("%s_%s_%s.deb", p.name, testVersion, runtime.GOARCH))
			run(t, root, []string{"BIN=" + bin, "VERSION=" + testVersion, "ARCH=" + runtime.GOARCH},
				nfpm, "package", "--config", filepath.Join("packaging", p.dir, "nfpm.yaml"), "--packager", "deb", "--target", deb)
			checkControl(t, p, deb, filepath.Join(bin, p.name))
			checkContents(t, p, deb)
			checkScripts(t, p, deb)
			if !p.service {
				return
			}
			scratch := filepath.Join(tmp, "root-"+p.dir)
			dpkg := install(t, p, deb, scratch)
			unitPath := filepath.Join(scratch, "lib/systemd/system", p.name+".service")
			u := parseUnit(t, unitPath)
			checkUnit(t, p, u)
			checkLayout(t, p, u, scratch, dpkg)
			checkSystemd(t, p, unitPath, scratch)
			checkConffileAccepted(t, p, scratch)
			if dpkg {
				checkRemove(t, p, scratch)
			}
		})
	}
}

func cmdDir(p pkg) string {
	if p.dir == "bridge" {
		return "firmware-bridge"
	}
	return p.dir
}

// checkControl: name, version, architecture, and Depends exactly as
// declared, covering every shared library the binary links.
func checkControl(t *testing.T, p pkg, deb, binary string) {
	t.Helper()
	ctl := map[string]string{}
	for _, l := range strings.Split(run(t, "", nil, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends"), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			ctl[k] = strings.TrimSpace(v)
		}
	}
	for k, want := range map[string]string{"Package": p.name, "Version": testVersion, "Architecture": runtime.GOARCH} {
		if ctl[k] != want {
			t.Errorf("%s: %s = %q, want %q", p.name, k, ctl[k], want)
		}
	}
	var deps []string
	for _, d := range strings.Split(ctl["Depends"], ",") {
		if d = strings.TrimSpace(d); d != "" {
			deps = append(deps, d)
		}
	}
	if !sameSet(deps, p.depends) {
		t.Errorf("%s: Depends %q, want %q", p.name, deps, p.depends)
	}
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		dp, ok := sonamePackage[l]
		if !ok {
			t.Errorf("%s links %s: add its Debian package to sonamePackage and to packaging/%s/nfpm.yaml depends", p.name, l, p.dir)
			continue
		}
		if !slices.Contains(deps, dp) {
			t.Errorf("%s links %s but does not depend on %s", p.name, l, dp)
		}
	}
}

// checkContents: exactly the expected files, with their modes and owners.
func checkContents(t *testing.T, p pkg, deb string) {
	t.Helper()
	want := map[string]string{ // path -> mode owner
		"/usr/bin/" + p.name:                         "-rwxr-xr-x root/root",
		"/usr/share/doc/" + p.name + "/packaging.md": "-rw-r--r-- root/root",
	}
	if p.service {
		want["/lib/systemd/system/"+p.name+".service"] = "-rw-r--r-- root/root"
		want["/usr/lib/sysusers.d/"+p.name+".conf"] = "-rw-r--r-- root/root"
		want["/usr/lib/tmpfiles.d/"+p.name+".conf"] = "-rw-r--r-- root/root"
		want[p.conffile] = "-rw-r--r-- root/root"
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "", nil, "dpkg-deb", "-c", deb)))
	for sc.Scan() {
		// -rwxr-xr-x root/root  17876416 2026-12-07 16:43 ./usr/bin/edgetrust-agent
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", sc.Text())
		}
		path := strings.TrimPrefix(f[len(f)-1], ".")
		if strings.HasPrefix(f[0], "d") {
			if f[1] != "root/root" || f[0] != "drwxr-xr-x" {
				t.Errorf("%s: directory %s is %s %s, want drwxr-xr-x root/root", p.name, path, f[0], f[1])
			}
			continue
		}
		got[path] = f[0] + " " + f[1]
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: %s is %q, want %q", p.name, path, got[path], w)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: unexpected file %s", p.name, path)
		}
	}
	conf, err := exec.Command("dpkg-deb", "-I", deb, "conffiles").CombinedOutput()
	switch {
	case p.service && strings.TrimSpace(string(conf)) != p.conffile:
		t.Errorf("%s: conffiles %q (%v), want %s", p.name, conf, err, p.conffile)
	case !p.service && err == nil:
		t.Errorf("%s: a tool package has conffiles %q", p.name, conf)
	}
}

// checkScripts: a service package has the shared maintainer scripts
// (executable, valid sh, systemctl only on a live systemd host); a tool
// package has none.
func checkScripts(t *testing.T, p pkg, deb string) {
	t.Helper()
	ctl := filepath.Join(t.TempDir(), "control")
	run(t, "", nil, "dpkg-deb", "-e", deb, ctl)
	musts := map[string][]string{
		"postinst": {"systemd-sysusers", "systemd-tmpfiles --create", `[ -z "$root" ] && [ -d /run/systemd/system ]`, "systemctl daemon-reload", `systemctl try-restart "$pkg.service"`},
		"prerm":    {`[ -z "$root" ] && [ -d /run/systemd/system ]`, `systemctl stop "$pkg.service"`},
		"postrm":   {`[ -z "$root" ] && [ -d /run/systemd/system ]`, "systemctl daemon-reload"},
	}
	for script, must := range musts {
		path := filepath.Join(ctl, script)
		fi, err := os.Stat(path)
		if !p.service {
			if err == nil {
				t.Errorf("%s: a tool package has a %s", p.name, script)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: no %s: %v", p.name, script, err)
			continue
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %s mode %v, want 0755", p.name, script, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) {
			t.Errorf("%s: %s does not start with #!/bin/sh", p.name, script)
		}
		for _, m := range must {
			if !bytes.Contains(b, []byte(m)) {
				t.Errorf("%s: %s lacks %q", p.name, script, m)
			}
		}
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n %s: %v\n%s", p.name, script, err, out)
		}
	}
}

// unit is a parsed unit file: key -> values in order (section-blind, as no
// key is used in two sections here).
type unit map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q", path, l)
		}
		u[k] = append(u[k], v)
	}
	return u
}

func (u unit) one(t *testing.T, k string) string {
	t.Helper()
	if len(u[k]) != 1 {
		t.Fatalf("unit: %s= appears %d times, want once", k, len(u[k]))
	}
	return u[k][0]
}

func checkUnit(t *testing.T, p pkg, u unit) {
	t.Helper()
	for k, v := range hardening {
		if !slices.Equal(u[k], []string{v}) {
			t.Errorf("%s: %s=%q, want %q", p.name, k, u[k], v)
		}
	}
	for k, v := range p.unit {
		if !slices.Equal(u[k], v) {
			t.Errorf("%s: %s=%q, want %q", p.name, k, u[k], v)
		}
	}
	if !slices.Equal(u["SystemCallFilter"], []string{"@system-service", "~@privileged @resources"}) {
		t.Errorf("%s: SystemCallFilter=%q", p.name, u["SystemCallFilter"])
	}
	if u.one(t, "User") != p.name || u.one(t, "Group") != p.name || u.one(t, "StateDirectory") != p.name {
		t.Errorf("%s: User=%s Group=%s StateDirectory=%s, want %s", p.name, u["User"], u["Group"], u["StateDirectory"], p.name)
	}
	var groups []string
	if len(u["SupplementaryGroups"]) > 0 {
		groups = strings.Fields(u.one(t, "SupplementaryGroups"))
	}
	if !sameSet(groups, p.groups) {
		t.Errorf("%s: SupplementaryGroups=%q, want %q", p.name, groups, p.groups)
	}
	if _, dev := p.unit["DeviceAllow"]; !dev && !slices.Equal(u["PrivateDevices"], []string{"yes"}) {
		t.Errorf("%s: needs no device, so PrivateDevices=yes", p.name)
	}
	exec := strings.Fields(u.one(t, "ExecStart"))
	if len(exec) < 4 || exec[0] != "/usr/bin/"+p.name || exec[1] != "serve" || exec[2] != "--config" || exec[3] != p.conffile {
		t.Errorf("%s: ExecStart=%q, want /usr/bin/%s serve --config %s ...", p.name, exec, p.name, p.conffile)
	}
}

// install puts the package into an empty scratch root. As root, with
// dpkg --root: the maintainer scripts run (chrootless, with DPKG_ROOT set),
// twice, so the upgrade path of the postinst runs on an existing user; the
// dependencies are not in the scratch root (--force-depends). Otherwise
// only the files, with dpkg-deb -x. It reports whether dpkg ran.
func install(t *testing.T, p pkg, deb, scratch string) bool {
	t.Helper()
	_, errU := exec.LookPath("systemd-sysusers")
	_, errT := exec.LookPath("systemd-tmpfiles")
	_, errD := exec.LookPath("dpkg")
	if errU != nil || errT != nil || errD != nil || os.Geteuid() != 0 {
		t.Logf("%s: files only (dpkg-deb -x): installing with dpkg --root needs root, dpkg, systemd-sysusers and systemd-tmpfiles", p.name)
		run(t, "", nil, "dpkg-deb", "-x", deb, scratch)
		return false
	}
	admin := filepath.Join(scratch, "var/lib/dpkg")
	for _, d := range []string{"info", "updates"} {
		if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(admin, "status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		dpkgRoot(t, scratch, "--force-depends", "-i", deb)
	}
	return true
}

func dpkgRoot(t *testing.T, scratch string, args ...string) string {
	t.Helper()
	return run(t, "", nil, "dpkg", append([]string{"--root=" + scratch, "--force-script-chrootless"}, args...)...)
}

// checkLayout checks that what the unit expects is in the scratch root: the
// binary, the conffile with the unit's state directory and, when dpkg ran
// the postinst, the user, its groups and the state directory.
func checkLayout(t *testing.T, p pkg, u unit, scratch string, dpkg bool) {
	t.Helper()
	binPath := filepath.Join(scratch, strings.Fields(u.one(t, "ExecStart"))[0])
	if fi, err := os.Stat(binPath); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s: ExecStart binary %s not executable in the package (%v)", p.name, binPath, err)
	}
	b, err := os.ReadFile(filepath.Join(scratch, p.conffile))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("%s: %v", p.conffile, err)
	}
	if want := "/var/lib/" + u.one(t, "StateDirectory"); conf.State != want {
		t.Errorf("%s: state %q, but systemd makes StateDirectory %s", p.conffile, conf.State, want)
	}
	if !dpkg {
		return
	}
	status, err := os.ReadFile(filepath.Join(scratch, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(status, []byte("Package: "+p.name+"\nStatus: install ok installed\n")) ||
		!bytes.Contains(status, []byte("Conffiles:\n "+p.conffile+" ")) {
		t.Errorf("%s: dpkg status after install:\n%s", p.name, status)
	}
	passwd, _ := os.ReadFile(filepath.Join(scratch, "etc/passwd"))
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p.name) + `:x:(\d+):(\d+):[^:]*:/var/lib/` + regexp.QuoteMeta(p.name) + `:/usr/sbin/nologin$`)
	m := re.FindSubmatch(passwd)
	if m == nil {
		t.Fatalf("%s: postinst made no system user with home /var/lib/%s and no shell:\n%s", p.name, p.name, passwd)
	}
	if n := len(re.FindAll(passwd, -1)); n != 1 {
		t.Errorf("%s: %d passwd entries after two installs, want 1", p.name, n)
	}
	uid, _ := strconv.Atoi(string(m[1]))
	if uid == 0 || uid >= 1000 {
		t.Errorf("%s: uid %d is not a system uid", p.name, uid)
	}
	fi, err := os.Stat(filepath.Join(scratch, "var/lib", p.name))
	if err != nil {
		t.Fatalf("%s: postinst made no state directory: %v", p.name, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != uid {
		t.Errorf("%s: /var/lib/%s is %v, want a directory 0700 owned by uid %d", p.name, p.name, fi.Mode(), uid)
	}
	group, _ := os.ReadFile(filepath.Join(scratch, "etc/group"))
	gids, members := map[string]string{}, map[string][]string{}
	for _, l := range strings.Split(string(group), "\n") {
		if f := strings.Split(l, ":"); len(f) == 4 {
			gids[f[0]] = f[2]
			members[f[0]] = strings.Split(f[3], ",")
		}
	}
	if gids[p.name] != string(m[2]) {
		t.Errorf("%s: primary gid %s, but group %s has gid %q", p.name, m[2], p.name, gids[p.name])
	}
	for _, g := range p.groups {
		if !slices.Contains(members[g], p.name) {
			t.Errorf("%s: not a member of group %s:\n%s", p.name, g, group)
		}
	}
}

// checkRemove: dpkg -r takes the package's files but leaves the conffile,
// the state directory and the user; dpkg -P then takes the conffile too, and
// still leaves the state directory (keys are never deleted by a package).
func checkRemove(t *testing.T, p pkg, scratch string) {
	t.Helper()
	exists := func(path string) bool {
		_, err := os.Lstat(filepath.Join(scratch, path))
		return err == nil
	}
	state := "/var/lib/" + p.name
	dpkgRoot(t, scratch, "-r", p.name)
	for _, f := range []string{"/usr/bin/" + p.name, "/lib/systemd/system/" + p.name + ".service"} {
		if exists(f) {
			t.Errorf("%s: %s still there after dpkg -r", p.name, f)
		}
	}
	if !exists(p.conffile) || !exists(state) {
		t.Errorf("%s: dpkg -r removed %s or %s", p.name, p.conffile, state)
	}
	dpkgRoot(t, scratch, "-P", p.name)
	if exists(p.conffile) {
		t.Errorf("%s: %s still there after dpkg -P", p.name, p.conffile)
	}
	if !exists(state) {
		t.Errorf("%s: dpkg -P removed the state directory %s", p.name, state)
	}
	if passwd, _ := os.ReadFile(filepath.Join(scratch, "etc/passwd")); !bytes.Contains(passwd, []byte(p.name+":x:")) {
		t.Errorf("%s: the user is gone after dpkg -P", p.name)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// checkSystemd runs systemd-analyze verify (no warning allowed) on a copy of
// the unit whose binary path points into the scratch root, and security
// --offline, whose exposure must stay at most maxExposure.
func checkSystemd(t *testing.T, p pkg, unitPath, scratch string) {
	t.Helper()
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp := filepath.Join(dir, p.name+".service")
	b = bytes.ReplaceAll(b, []byte("/usr/bin/"+p.name), []byte(filepath.Join(scratch, "usr/bin", p.name)))
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", cp).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("%s: systemd-analyze verify: %v\n%s", p.name, err, out)
	}
	threshold := strconv.Itoa(int(maxExposure * 10))
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold="+threshold, "--no-pager", cp).CombinedOutput()
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s: systemd-analyze security printed no exposure (%v):\n%s", p.name, err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("%s: systemd-analyze security --offline=yes exposure %.1f (at most %.1f)", p.name, score, maxExposure)
	if err != nil || score > maxExposure {
		t.Errorf("%s: exposure %.1f over %.1f (%v):\n%s", p.name, score, maxExposure, err, out)
	}
}

// checkConffileAccepted starts the packaged binary on the packaged conffile,
// with a scratch state directory, a free loopback port and a simulated TPM
// given as flags (which win over the file): central and the appliance must
// come up listening, and the agent must get past its configuration to the
// sensor (no fingerprint module is attached here). A key the daemon does not
// know is a usage error (exit 2) at start.
func checkConffileAccepted(t *testing.T, p pkg, scratch string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"serve", "--config", filepath.Join(scratch, p.conffile), "--state", state}
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	want := "listening"
	switch p.dir {
	case "central":
		pass := make([]byte, 24)
		if _, err := rand.Read(pass); err != nil {
			t.Fatal(err)
		}
		env = append(env, "EDGETRUST_CENTRAL_PASSPHRASE="+hex.EncodeToString(pass))
		args = append(args, "--addr", "127.0.0.1:0")
	case "appliance":
		args = append(args, "--listen", "127.0.0.1:0", "--tpm", "sim")
	case "agent":
		args = append(args, "--tpm", "sim")
		want = "sensor"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(scratch, "usr/bin", p.name), args...)
	cmd.Env = env
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			code := -1
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if p.dir == "agent" && code == 1 && strings.Contains(out.String(), want) && !strings.Contains(out.String(), "config") {
				return // configuration accepted; stopped at the missing sensor
			}
			t.Fatalf("%s serve on %s exited (%v, code %d) before %q:\n%s", p.name, p.conffile, err, code, want, out.String())
		case <-tick.C:
			if p.dir != "agent" && strings.Contains(out.String(), want) {
				// systemd stops a service with SIGTERM: it must exit 0.
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Errorf("%s: exit after SIGTERM: %v\n%s", p.name, err, out.String())
				}
				return
			}
		}
	}
}

// syncBuffer collects a daemon's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // bound what a chatty daemon can make us hold
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
