#!/usr/bin/env bash
# test/package/build-and-test.sh - build the Debian package, install it, run
# the regression suite against the installed files, remove it again.
#
#   sudo test/package/build-and-test.sh     (root: apt-get, dpkg -i, dpkg -r)
#
# 0. checks that kinesis_glue.control, debian/changelog and META.json name
#    the same version;
# 1. installs the build dependencies that are missing (apt-get);
# 2. builds postgresql-15-kinesis-glue with dpkg-buildpackage -us -uc -b
#    (debian/rules: dh --with pgxs_loop, i.e. pg_buildext) in a scratch copy
#    of this tree, so the tree itself stays unbuilt;
# 3. installs the .deb with dpkg -i into the system PostgreSQL 15
#    (/usr/lib/postgresql/15, /usr/share/postgresql/15);
# 4. runs debian/tests/installcheck: `make regresscheck` (pg_regress on a
#    temporary instance that preloads the library) against those files;
# 5. removes the package (dpkg -r) and puts back any kinesis_glue files that
#    were there before and belonged to no package (a `make install`), so the
#    system is left as it was.  KG_KEEP_PACKAGE=1 keeps the package installed.
#
# The last line is "N passed, N failed" (pg_regress test files); the exit
# status is non-zero when a step or a test failed.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PACKAGE=postgresql-15-kinesis-glue
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
BUILD_DEPS=(build-essential dpkg-dev debhelper postgresql-15 postgresql-server-dev-15
	postgresql-server-dev-all zlib1g-dev)

log() { printf '==> %s\n' "$*"; }
# fail NOTE: report one failure, clean up and stop
fail() {
	printf 'ERROR: %s\n' "$*" >&2
	finish 0 1
}
# finish PASSED FAILED: clean up, print the summary line last and exit
finish() {
	trap - EXIT
	cleanup
	echo "$1 passed, $2 failed"
	[[ $2 -eq 0 ]]
	exit $?
}
INSTALLED=0
WORK=
BACKUP=
# cleanup: remove the package (unless KG_KEEP_PACKAGE=1), put back what it
# overwrote, remove the scratch directory
cleanup() {
	if [[ $INSTALLED -eq 1 && ${KG_KEEP_PACKAGE:-0} != 1 ]]; then
		log "removing $PACKAGE (dpkg -r)"
		dpkg -r "$PACKAGE" >/dev/null || echo "ERROR: dpkg -r $PACKAGE failed" >&2
		if [[ -d $BACKUP ]]; then
			log "putting back the kinesis_glue files that were installed before"
			cp -a "$BACKUP/." /
		fi
		INSTALLED=0
	fi
	[[ -n $WORK ]] && rm -rf "$WORK"
	return 0
}

[[ $(id -u) -eq 0 ]] || fail "run as root (apt-get, dpkg -i and dpkg -r need it)"

# 0. one version everywhere: the control file, debian/changelog, META.json
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/kinesis_glue.control")
deb_version=$(sed -n '1s/^[^ ]* (\([^)-]*\)-[^)]*).*/\1/p' "$ROOT/debian/changelog")
meta_version=$(perl -MJSON::PP -0777 -ne 'my $m = decode_json($_); print $m->{version}, " ", $m->{provides}{kinesis_glue}{version}' "$ROOT/META.json")
[[ $deb_version == "$version" && $meta_version == "$version $version" ]] ||
	fail "versions differ: kinesis_glue.control $version, debian/changelog $deb_version, META.json $meta_version"

# 1. build dependencies
missing=()
for p in "${BUILD_DEPS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	log "installing missing build dependencies: ${missing[*]}"
	apt-get update >/dev/null || fail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
		fail "apt-get install failed"
fi
if dpkg -s "$PACKAGE" >/dev/null 2>&1; then
	fail "$PACKAGE is already installed; remove it first (dpkg -r $PACKAGE)"
fi

trap cleanup EXIT
WORK=$(mktemp -d /tmp/kinesis_glue-package.XXXXXX)
BACKUP=$WORK/backup

# 2. build in a scratch copy: the files git knows (tracked and new), or the
# whole tree without build output when there is no git
SRC=$WORK/kinesis-glue-$version
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r tar -cf - --) |
		tar -C "$SRC" -xf - || fail "copying the tree failed"
else
	tar -C "$ROOT" --exclude=.git --exclude='tmp_check*' --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=results --exclude=log -cf - . | tar -C "$SRC" -xf - || fail "copying the tree failed"
fi
log "building $PACKAGE (dpkg-buildpackage -us -uc -b in $SRC)"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
	tail -n 60 "$WORK/build.log"
	fail "dpkg-buildpackage failed"
fi
DEB=$(ls "$WORK"/"${PACKAGE}"_*.deb 2>/dev/null | head -n 1)
[[ -n $DEB ]] || fail "no ${PACKAGE}_*.deb was built"
log "built $(basename "$DEB"):"
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print "    " $NF}' | grep -v '/bitcode/kinesis_glue/'

# 3. install; first keep a copy of files the package would overwrite that
# belong to no package (a `make install` of this tree)
while IFS= read -r f; do
	f=/${f#./}
	[[ -f $f ]] || continue
	if ! dpkg -S "$f" >/dev/null 2>&1; then
		mkdir -p "$BACKUP$(dirname "$f")"
		cp -a "$f" "$BACKUP$f"
	fi
done < <(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $NF}')
log "installing $(basename "$DEB") (dpkg -i)"
dpkg -i "$DEB" || fail "dpkg -i failed"
INSTALLED=1
so=$("$PG_CONFIG" --pkglibdir)/kinesis_glue.so
[[ $(dpkg -S "$so" 2>/dev/null) == "$PACKAGE: $so" ]] || fail "$so does not come from $PACKAGE"

# 4. the regression suite against the installed files
log "installcheck: the pg_regress suite against the installed package"
(cd "$SRC" && PG_CONFIG=$PG_CONFIG debian/tests/installcheck) 2>&1 | tee "$WORK/installcheck.log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '\.\.\. +ok( |$)|^ok [0-9]+ ' "$WORK/installcheck.log")
failed=$(grep -cE '\.\.\. +FAILED|^not ok [0-9]+' "$WORK/installcheck.log")
if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi
if [[ $passed -eq 0 && $failed -eq 0 ]]; then failed=1; fi
finish "$passed" "$failed"
