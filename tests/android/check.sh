#!/usr/bin/env bash
# Checks the Android build artifacts with real tools (docs/aosp.md describes them):
#   (a) Android.bp files: bpfmt, and the modules and properties the build relies on;
#   (b) sepolicy: m4 + checkpolicy against the platform stub in sepolicy-stub/, in
#       several build configurations, with deliberately broken copies that must fail;
#       file_contexts and service_contexts syntax and types;
#   (c) VINTF XML: xmllint, and agreement of manifest fragment, compatibility matrix,
#       AIDL package, frozen version, init .rc and service_contexts;
#   (d) AIDL: the frozen snapshot's .hash (AOSP's algorithm) and its equivalence with
#       the sources; Debian's aidl as a second opinion where it can parse the syntax.
#       The compiler check proper is `cargo test --test aidl_compiles` (rsbinder-aidl).
# Prints one line per check and a final "N passed, M failed"; exits non-zero on failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STUB="$ROOT/tests/android/sepolicy-stub"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
skipped=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; skipped=$((skipped + 1)); }
check() { # check DESCRIPTION COMMAND... : pass if the command succeeds
    local what=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then pass "$what"; else
        fail "$what"
        sed 's/^/    /' "$WORK/out" | head -40
    fi
}

# ---------------------------------------------------------------- tools
ensure_tools() {
    local missing=() tool pkg
    for tool in bpfmt:blueprint-tools checkpolicy:checkpolicy xmllint:libxml2-utils m4:m4; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing tools (${missing[*]}) and not root: install them with apt-get" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
}
if ! ensure_tools; then
    fail "required tools are available"
    echo "$passed passed, $failed failed"
    exit 1
fi

# Top-level modules of a bpfmt-formatted file: "type name" per line. bpfmt's canonical
# layout (module at column 0, properties indented by 4) makes this parse exact once the
# bpfmt check has passed.
bp_modules() {
    awk '/^[a-z_]+ \{$/ { type = $1; name = ""; next }
         /^    name: "/ && type != "" { split($0, a, "\""); print type, a[2]; next }
         /^\}$/ { type = "" }' "$1"
}
# The text of module NAME in a formatted .bp file, from its header to its closing brace.
bp_module_text() {
    awk -v want="$2" '/^[a-z_]+ \{$/ { buf = $0 "\n"; inmod = 1; next }
        inmod { buf = buf $0 "\n" }
        inmod && /^    name: "/ { split($0, a, "\""); name = a[2] }
        /^\}$/ && inmod { if (name == want) printf "%s", buf; inmod = 0; name = "" }' "$1"
}
has_line() { grep -qxF -- "$2" <<<"$1"; }

# ---------------------------------------------------------------- (a) Android.bp
BP_FILES=("$ROOT/Android.bp" "$ROOT/aidl/Android.bp" "$ROOT/crates/gunyah-bindings/Android.bp")
for bp in "${BP_FILES[@]}"; do
    rel=${bp#"$ROOT"/}
    if diff_out=$(bpfmt -d "$bp" 2>&1) && [ -z "$diff_out" ]; then
        pass "bpfmt: $rel is formatted"
    else
        fail "bpfmt: $rel is formatted"
        sed 's/^/    /' <<<"$diff_out" | head -40
    fi
done

modules=$(for bp in "${BP_FILES[@]}"; do bp_modules "$bp"; done)
for want in "aidl_interface vendor.drivervm" "rust_defaults drivervm_defaults" \
    "rust_library libdrivervm" "rust_binary drivervm" "rust_binary drivervmctl" \
    "rust_library libgunyah_bindings" "rust_binary_host drivervm-config-json" \
    "genrule drivervm_config_json" "prebuilt_etc drivervm.json" "license drivervm_license" \
    "prebuilt_etc drivervm_seccomp_filters"; do
    if has_line "$modules" "$want"; then pass "Android.bp declares $want"; else
        fail "Android.bp declares $want (found: $(tr '\n' ',' <<<"$modules"))"
    fi
done

props_ok() { # props_ok FILE MODULE LINE... : every LINE appears in the module's text
    local file=$1 module=$2 text line
    shift 2
    text=$(bp_module_text "$file" "$module")
    for line in "$@"; do
        has_line "$text" "$line" || { echo "module $module lacks: $line"; return 1; }
    done
}
check "aidl_interface: vintf, vendor_available, rust backend, frozen V1 and V2" \
    props_ok "$ROOT/aidl/Android.bp" vendor.drivervm \
    '    stability: "vintf",' '    vendor_available: true,' '    frozen: true,' \
    '    srcs: ["vendor/drivervm/*.aidl"],' '            version: "1",' \
    '            version: "2",' '            imports: [],'
rust_enabled() {
    bp_module_text "$ROOT/aidl/Android.bp" vendor.drivervm |
        awk '/^        rust: \{$/ { r = 1; next } r && /^        \}/ { r = 0 }
             r && /enabled: true/ { found = 1 } END { exit !found }'
}
check "aidl_interface: the rust backend block itself is enabled" rust_enabled
check "rust_binary drivervm: vendor, hw/, init_rc, vintf fragment, config" \
    props_ok "$ROOT/Android.bp" drivervm '    defaults: ["drivervm_defaults"],' \
    '    relative_install_path: "hw",' '    init_rc: ["etc/drivervm.rc"],' \
    '    vintf_fragments: ["vintf/drivervm.xml"],' '        "drivervm.json",' \
    '        "drivervm_seccomp_filters",' '    srcs: ["src/main.rs"],'
check "rust_defaults: modules are vendor modules" \
    props_ok "$ROOT/Android.bp" drivervm_defaults '    vendor: true,'
check "rust_library libdrivervm: first arch only (like AOSP's rust-vmm crates), no harness" \
    bash -c "$(declare -f bp_module_text has_line props_ok); props_ok '$ROOT/Android.bp' libdrivervm '    compile_multilib: \"first\",' && ! bp_module_text '$ROOT/Android.bp' libdrivervm | grep -qF '\"harness\"'"
check "genrule drivervm_config_json converts the Android TOML with the host tool" \
    props_ok "$ROOT/Android.bp" drivervm_config_json '    tools: ["drivervm-config-json"],' \
    '    srcs: ["etc/android/drivervm.toml"],' '    out: ["drivervm.json"],' \
    '    cmd: "$(location drivervm-config-json) $(in) $(out)",'
check "prebuilt_etc drivervm.json installs the converted config to /vendor/etc/drivervm" \
    props_ok "$ROOT/Android.bp" drivervm.json '    vendor: true,' \
    '    src: ":drivervm_config_json",' '    filename: "drivervm.json",' '    sub_dir: "drivervm",'
check "prebuilt_etc drivervm_seccomp_filters installs each arch's policy to /vendor/etc/drivervm" \
    props_ok "$ROOT/Android.bp" drivervm_seccomp_filters '    vendor: true,' \
    '            src: "etc/android/seccomp/arm64/seccomp_filters.bin",' \
    '            src: "etc/android/seccomp/x86_64/seccomp_filters.bin",' \
    '            src: "etc/android/seccomp/riscv64/seccomp_filters.bin",' \
    '    filename: "seccomp_filters.bin",' '    sub_dir: "drivervm",'

# Every file a module names exists. Files other streams of work own are reported, not
# failed, while they are not yet in the tree.
owned_elsewhere=" src/bin/drivervmctl.rs "
refs=$(grep -ohE '"(src|etc|vintf)/[^"*]+"' "$ROOT/Android.bp" | tr -d '"' | sort -u)
for ref in $refs; do
    if [ -e "$ROOT/$ref" ]; then pass "Android.bp reference exists: $ref"
    elif [[ $owned_elsewhere == *" $ref "* ]]; then skip "Android.bp reference $ref is not in the tree yet"
    else fail "Android.bp reference exists: $ref"; fi
done
aidl_srcs=$(find "$ROOT/aidl/vendor/drivervm" -name '*.aidl' | wc -l)
if [ "$aidl_srcs" -gt 0 ]; then pass "aidl_interface srcs glob matches $aidl_srcs files"; else
    fail "aidl_interface srcs glob matches files"; fi

# Every library a module links is ours, the AIDL crate, or an AOSP module recorded in
# tests/android/aosp-crates.toml. That every crate the code imports is in its module's
# rustlibs, and that each recorded module is one a vendor module may link, is proved by
# compiling: `cargo test --test aosp_crates` (docs/aosp.md).
ours=$(for bp in "${BP_FILES[@]}"; do bp_modules "$bp"; done | awk '$1 ~ /^rust_library/ {print $2}')
libs=$(for bp in "${BP_FILES[@]}"; do
    awk '/^    rustlibs: \[/ { r = 1; next } r && /^    \]/ { r = 0 } r { print }' "$bp"
done | tr -d ' ",' | sort -u)
recorded=$(sed -nE 's/^module = "([^"]+)"$/\1/p' "$ROOT/tests/android/aosp-crates.toml")
[ -n "$libs" ] || fail "rustlibs entries found in the Android.bp files"
for lib in $libs; do
    if has_line "$ours" "$lib"; then pass "rustlibs $lib is a module of this tree"
    elif [[ $lib =~ ^vendor\.drivervm-V[0-9]+-rust$ ]]; then pass "rustlibs $lib is the aidl_interface's crate"
    elif has_line "$recorded" "$lib"; then pass "rustlibs $lib is recorded in tests/android/aosp-crates.toml"
    else fail "rustlibs $lib is recorded in tests/android/aosp-crates.toml"; fi
done

# ---------------------------------------------------------------- (b) sepolicy
# build_policy OUT VARIANT BOARD_API DEBUGFS_RESTRICTED POLICY_DIR [EXTRA_DIR...]
# Concatenates in AOSP's order and compiles with checkpolicy (MLS, policy version 30), as a
# full-Treble device.
build_policy() {
    local out=$1 variant=$2 api=$3 restricted=$4 dir
    shift 4
    local te=() genfs=()
    for dir in "$@"; do
        te+=("$dir"/*.te)
        [ -f "$dir/genfs_contexts" ] && genfs+=("$dir/genfs_contexts")
    done
    m4 --fatal-warnings -D target_build_variant="$variant" -D target_board_api_level="$api" \
        -D target_enforce_debugfs_restriction="$restricted" -D target_full_treble=true -s \
        "$STUB/security_classes" "$STUB/initial_sids" "$STUB/access_vectors" "$STUB/mls" \
        "$STUB/global_macros" "$STUB/te_macros" "$STUB/ioctl_defines" \
        "$STUB/platform.te" "$STUB/neverallows.te" "${te[@]}" \
        "$STUB/roles_users" "$STUB/initial_sid_contexts" "${genfs[@]}" >"$out.conf" &&
        checkpolicy -M -c 30 -o "$out.bin" "$out.conf"
}
SE="$ROOT/sepolicy"
OPT=("$SE/debugfs_clk" "$SE/ufs_rpmb" "$SE/rpc")
check "sepolicy compiles: user, board API 202404, debugfs restricted" \
    build_policy "$WORK/p1" user 202404 true "$SE"
check "sepolicy compiles: userdebug, board API 202504, base policy only" \
    build_policy "$WORK/p0" userdebug 202504 true "$SE"
check "sepolicy compiles: user, board API 202504, with optional dirs" \
    build_policy "$WORK/p2" user 202504 true "$SE" "${OPT[@]}"
check "sepolicy compiles: userdebug, board API 202504, no debugfs restriction, optional dirs" \
    build_policy "$WORK/p3" userdebug 202504 false "$SE" "${OPT[@]}"
check "sepolicy compiles: eng, board API 202404, no debugfs restriction, optional dirs" \
    build_policy "$WORK/p4" eng 202404 false "$SE" "${OPT[@]}"

# The build configurations really switch rules on and off.
conf_has() { grep -qE "$2" "$1"; }
conf_lacks() { ! grep -qE "$2" "$1"; }
check "user build: no sys_rawio and no debugfs_clk rules for drivervm" \
    conf_lacks "$WORK/p2.conf" '^\s*allow drivervm (self:.*sys_rawio|debugfs_clk:)'
check "userdebug without debugfs restriction: debugfs_clk and sys_rawio rules present" \
    bash -c "grep -qE '^\s*allow drivervm debugfs_clk:file' '$WORK/p3.conf' && grep -qE '^\s*allow drivervm self:.*sys_rawio' '$WORK/p3.conf'"
check "with sepolicy/rpc at board API 202504 drivervm is an unconstrained vsock user" \
    grep -q '^typeattribute drivervm unconstrained_vsock_violators' "$WORK/p2.conf"
check "sepolicy/rpc at board API 202404 does not name the 202504 attribute" \
    conf_lacks "$WORK/p4.conf" '^typeattribute drivervm unconstrained_vsock_violators'
check "without sepolicy/rpc: no vsock or generic socket rule, no vsock attribute" \
    conf_lacks "$WORK/p0.conf" '(^\s*allow drivervm self:(\{[^}]*\b)?(vsock_)?socket\b|^typeattribute drivervm unconstrained_vsock_violators)'
check "userdebug: shell may run drivervmctl (drivervmctl_exec)" \
    conf_has "$WORK/p3.conf" '^\s*allow shell drivervmctl_exec:file'
check "user build: shell gets nothing of drivervm's" \
    conf_lacks "$WORK/p2.conf" '^\s*allow shell drivervm'

# Deliberately broken copies must fail, each for its stated reason.
must_fail() { # must_fail DESCRIPTION EXPECTED_ERROR_REGEX BUILD_ARGS...
    local what=$1 expect=$2
    shift 2
    if build_policy "$@" >"$WORK/out" 2>&1; then
        fail "$what (it compiled)"
    elif grep -qE "$expect" "$WORK/out"; then pass "$what"
    else
        fail "$what (failed for another reason)"
        sed 's/^/    /' "$WORK/out" | head -20
    fi
}
mkdir -p "$WORK/typo" "$WORK/rawio" "$WORK/debugfs" "$WORK/vendorfile" "$WORK/coreexec"
cp "$SE"/*.te "$WORK/typo/"
sed -i 's/allow drivervm drivervm_radio_device:chr_file/allow drivervm drivervm_radio_devce:chr_file/' "$WORK/typo/drivervm.te"
if grep -q drivervm_radio_devce "$WORK/typo/drivervm.te"; then
    must_fail "broken copy (typo'd type) is rejected" 'drivervm_radio_devce' \
        "$WORK/typo" user 202504 true "$WORK/typo"
else fail "broken copy: the typo substitution applied"; fi
cp "$SE"/*.te "$WORK/rawio/"
echo 'allow drivervm self:global_capability_class_set sys_rawio;' >>"$WORK/rawio/drivervm.te"
must_fail "sys_rawio outside userdebug_or_eng violates AOSP's user-build neverallow" \
    'neverallow.*violated' "$WORK/rawio" user 202504 true "$WORK/rawio"
cp "$SE"/*.te "$WORK/debugfs/"
cp "$SE/debugfs_clk/genfs_contexts" "$WORK/debugfs/"
sed -e 's/^no_debugfs_restriction(`$/(`/' -e '/^  userdebug_or_eng(`$/d' -e "/^  ')$/d" \
    "$SE/debugfs_clk/drivervm_debugfs_clk.te" |
    sed -e 's/^(`$//' -e "s/^')$//" >"$WORK/debugfs/drivervm_debugfs_clk.te"
if grep -q '^    allow drivervm debugfs_clk:file' "$WORK/debugfs/drivervm_debugfs_clk.te"; then
    must_fail "unguarded debugfs access violates the debugfs-restriction neverallow" \
        'neverallow.*violated' "$WORK/debugfs" user 202504 true "$WORK/debugfs"
else fail "debugfs mutation applied"; fi

# The full-Treble rules bite: drivervmctl left at the default vendor_file label cannot be
# run from shell, and no core domain but shell may execute drivervmctl_exec.
cp "$SE"/*.te "$WORK/vendorfile/"
sed -i 's/allow shell drivervmctl_exec:file rx_file_perms;/allow shell vendor_file:file rx_file_perms;/' "$WORK/vendorfile/shell.te"
if grep -q 'allow shell vendor_file:file' "$WORK/vendorfile/shell.te"; then
    must_fail "shell executing vendor_file violates the full-Treble vendor_file neverallow" \
        'neverallow.*violated' "$WORK/vendorfile" userdebug 202504 true "$WORK/vendorfile"
else fail "vendor_file mutation applied"; fi
cp "$SE"/*.te "$WORK/coreexec/"
echo 'allow servicemanager drivervmctl_exec:file { execute execute_no_trans };' >>"$WORK/coreexec/shell.te"
must_fail "a core domain other than shell executing drivervmctl violates the vendor-exec neverallows" \
    'neverallow.*violated' "$WORK/coreexec" userdebug 202504 true "$WORK/coreexec"

# Policy hygiene: no permissive domains, no rules granted to every domain.
check "no permissive statements in sepolicy/" bash -c "! grep -rnE '^\s*permissive\b' '$SE'"
check "no allow rule whose source is the domain attribute" \
    bash -c "! grep -rnE '^\s*allow(xperm)?\s+(\{[^}]*\b)?domain\b' '$SE'"

# file_contexts and service_contexts: syntax, regex validity, declared types.
declared_types() { grep -ohE '^type [a-z0-9_]+' "$WORK/p3.conf" | awk '{print $2}' | sort -u; }
declared_types >"$WORK/types"
check_contexts() { # check_contexts FILE KIND(file|service)
    local file=$1 kind=$2 n=0 line key ctx type
    while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        n=$((n + 1))
        if [ "$kind" = file ]; then
            [[ $line =~ ^([^[:space:]]+)[[:space:]]+(--[a-z][[:space:]]+)?(u:object_r:[a-z0-9_]+:s0)[[:space:]]*$ ]] ||
                { echo "bad line: $line"; return 1; }
            key=${BASH_REMATCH[1]}
            ctx=${BASH_REMATCH[3]}
            grep -qE "^(${key})$" <<<"" 2>/dev/null
            [ $? -le 1 ] || { echo "invalid regex: $key"; return 1; }
        else
            [[ $line =~ ^([A-Za-z0-9_.]+/[A-Za-z0-9_.]+)[[:space:]]+(u:object_r:[a-z0-9_]+:s0)[[:space:]]*$ ]] ||
                { echo "bad line: $line"; return 1; }
            ctx=${BASH_REMATCH[2]}
        fi
        type=$(cut -d: -f3 <<<"$ctx")
        grep -qxF "$type" "$WORK/types" || { echo "undeclared type: $type"; return 1; }
    done <"$file"
    [ "$n" -gt 0 ] || { echo "no entries"; return 1; }
}
for fc in "$SE/file_contexts" "$SE/ufs_rpmb/file_contexts"; do
    check "file_contexts syntax and types: ${fc#"$ROOT"/}" check_contexts "$fc" file
done
check "service_contexts syntax and types" check_contexts "$SE/service_contexts" service
check "service type is a service_manager_type" \
    grep -qE '^type drivervm_service,.*service_manager_type' "$SE/service.te"

# Paths land on the intended labels (first-match order as written is not relied on:
# AOSP picks the most specific entry, so each sample path must match exactly one type).
label_of() { # label_of PATH FILE: the types whose regex matches PATH
    local p=$1 line key
    while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        key=${line%%[[:space:]]*}
        grep -qE "^(${key})$" <<<"$p" && awk '{print $NF}' <<<"$line" | cut -d: -f3
    done <"$2" | sort -u | tr '\n' ' '
}
expect_label() { # expect_label PATH FILE TYPE...
    local got want t
    got=$(label_of "$1" "$2")
    want=""
    for t in "${@:3}"; do want+="$t "; done
    [ "$got" = "$want" ] || { echo "$1: got '$got', want '$want'"; return 1; }
}
FC="$SE/file_contexts"
check "label: /vendor/bin/hw/drivervm" expect_label /vendor/bin/hw/drivervm "$FC" drivervm_exec
check "label: /vendor/bin/drivervmctl (its own exec type, not vendor_file)" \
    expect_label /vendor/bin/drivervmctl "$FC" drivervmctl_exec
check "label: /vendor/etc/drivervm/drivervm.json" expect_label /vendor/etc/drivervm/drivervm.json "$FC" drivervm_vendor_config_file
check "label: /vendor/etc/drivervm/seccomp_filters.bin (the config's, which the domain reads)" \
    expect_label /vendor/etc/drivervm/seccomp_filters.bin "$FC" drivervm_vendor_config_file
check "label: /dev/mmcblk0rpmb (and not /dev/mmcblk0)" \
    bash -c "$(declare -f label_of expect_label); expect_label /dev/mmcblk0rpmb '$FC' drivervm_rpmb_device && expect_label /dev/mmcblk0 '$FC'"
check "label: /dev/radio0" expect_label /dev/radio0 "$FC" drivervm_radio_device
check "label: /dev/gh_virtio_backend_2" expect_label /dev/gh_virtio_backend_2 "$FC" drivervm_gunyah_device
check "label: /dev/bsg/0:0:0:49476 (UFS RPMB W-LUN only)" \
    bash -c "$(declare -f label_of expect_label); expect_label /dev/bsg/0:0:0:49476 '$SE/ufs_rpmb/file_contexts' drivervm_ufs_rpmb_device && expect_label /dev/bsg/0:0:0:0 '$SE/ufs_rpmb/file_contexts'"
check "label: sockets dir is drivervm_socket (the more specific of two matches)" \
    expect_label /data/vendor/drivervm/sockets/snd0.sock "$FC" drivervm_data_file drivervm_socket
# The installed config's directories carry the labels the domain's rules are written for
# (tests/android_config.rs checks them against the .rc).
ACFG="$ROOT/etc/android/drivervm.toml"
cfg_dir() { sed -nE "s|^$1 = \"([^\"]+)\"$|\1|p" "$ACFG"; }
check "label: the Android config's runtime_dir holds drivervm_socket files" \
    expect_label "$(cfg_dir runtime_dir)/vm0-scmi.sock" "$FC" drivervm_data_file drivervm_socket
check "label: the Android config's state_dir holds drivervm_data_file files" \
    expect_label "$(cfg_dir state_dir)/vm0-rpmb.img" "$FC" drivervm_data_file

# ---------------------------------------------------------------- (c) VINTF and init
for xml in "$ROOT"/vintf/*.xml; do
    check "xmllint: ${xml#"$ROOT"/}" xmllint --noout "$xml"
done
xp() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }
MANIFEST="$ROOT/vintf/drivervm.xml"
MATRIX="$ROOT/vintf/compatibility_matrix.xml"
RC="$ROOT/etc/drivervm.rc"
pkg=$(sed -nE 's/^package ([a-z0-9_.]+);$/\1/p' "$ROOT/aidl/vendor/drivervm/IDriverVm.aidl")
frozen=$(find "$ROOT/aidl/aidl_api/$pkg" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' -printf '%f\n' 2>/dev/null | sort -n | tail -1)
bp_version=$(bp_module_text "$ROOT/aidl/Android.bp" "$pkg" | sed -nE 's/^ *version: "([0-9]+)",$/\1/p' | sort -n | tail -1)
m_name=$(xp "$MANIFEST" '/manifest/hal[@format="aidl"]/name')
m_version=$(xp "$MANIFEST" '/manifest/hal[@format="aidl"]/version')
m_fqname=$(xp "$MANIFEST" '/manifest/hal[@format="aidl"]/fqname')
rc_iface=$(sed -nE 's/^ +interface aidl ([^ ]+)$/\1/p' "$RC")
sc_name=$(awk '!/^#/ && NF {print $1}' "$SE/service_contexts")
agree() { [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
check "manifest type is device" agree "$(xp "$MANIFEST" '/manifest/@type')" device
check "manifest HAL name = AIDL package ($pkg)" agree "$m_name" "$pkg"
check "manifest version = latest frozen aidl_api version" agree "$m_version" "$frozen"
check "manifest version = latest versions_with_info in aidl/Android.bp" agree "$m_version" "$bp_version"
check "manifest fqname names IDriverVm" agree "${m_fqname%%/*}" IDriverVm
check ".rc interface line = manifest name.fqname" agree "$rc_iface" "$m_name.$m_fqname"
check "service_contexts entry = manifest name.fqname" agree "$sc_name" "$m_name.$m_fqname"
check "matrix type is framework" agree "$(xp "$MATRIX" '/compatibility-matrix/@type')" framework
check "matrix marks the HAL optional" agree "$(xp "$MATRIX" '//hal[name="'"$pkg"'"]/@optional')" true
check "matrix HAL version = manifest version" agree "$(xp "$MATRIX" '//hal[name="'"$pkg"'"]/version')" "$m_version"
check "matrix interface/instance = manifest fqname" \
    agree "$(xp "$MATRIX" '//hal[name="'"$pkg"'"]/interface/name')/$(xp "$MATRIX" '//hal[name="'"$pkg"'"]/interface/instance')" "$m_fqname"

rc_service=$(awk '$1 == "service" {print $3}' "$RC")
check ".rc starts the binary sepolicy labels drivervm_exec" \
    agree "$(label_of "$rc_service" "$FC")" "drivervm_exec "
check ".rc binary is where Android.bp installs it (/vendor/bin/hw)" agree "$rc_service" /vendor/bin/hw/drivervm
# drivervmctl installs to /vendor/bin (no relative_install_path), where its exec type is.
ctl_text=$(bp_module_text "$ROOT/Android.bp" drivervmctl)
ctl_path="/vendor/bin/$(sed -nE 's/^    relative_install_path: "([^"]+)",$/\1\//p' <<<"$ctl_text")drivervmctl"
check "drivervmctl's install path ($ctl_path) is labelled drivervmctl_exec" \
    expect_label "$ctl_path" "$FC" drivervmctl_exec
rc_field() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$RC"; }
check ".rc class hal" agree "$(rc_field class)" hal
check ".rc user is a dedicated non-root vendor AID" \
    bash -c "u='$(rc_field user)'; [ \"\$u\" = vendor_drivervm ] && grep -qx '\[AID_VENDOR_DRIVERVM\]' '$ROOT/etc/config.fs'"
check ".rc drops all capabilities" agree "$(grep -cE '^ +capabilities *$' "$RC")" 1
check ".rc creates the runtime dirs that file_contexts labels" \
    bash -c "for d in /data/vendor/drivervm /data/vendor/drivervm/state /data/vendor/drivervm/sockets; do grep -qE \"^ +mkdir \$d [0-7]{4} vendor_drivervm vendor_drivervm\$\" '$RC' || { echo \"no mkdir \$d\"; exit 1; }; done"

# The config path the service is started with is where prebuilt_etc installs the file,
# and it carries the config label.
etc_text=$(bp_module_text "$ROOT/Android.bp" drivervm.json)
etc_path="/vendor/etc/$(sed -nE 's/^    sub_dir: "([^"]+)",$/\1/p' <<<"$etc_text")/$(sed -nE 's/^    filename: "([^"]+)",$/\1/p' <<<"$etc_text")"
rc_config=$(awk '$1 == "service" { for (i = 4; i < NF; i++) if ($i == "--config") print $(i + 1) }' "$RC")
check ".rc --config is the prebuilt_etc install path ($etc_path)" agree "$rc_config" "$etc_path"
check "config path is labelled drivervm_vendor_config_file" \
    expect_label "$etc_path" "$FC" drivervm_vendor_config_file

# Every node the ueventd fragment hands to the service's group carries a drivervm label.
UEV="$ROOT/etc/ueventd.drivervm.rc"
uevent_nodes_ok() {
    local glob mode _owner group sample n=0 rc_group
    rc_group=$(rc_field group | awk '{print $1}')
    while read -r glob mode _owner group; do
        [[ $glob =~ ^(#|$) ]] && continue
        n=$((n + 1))
        [[ $mode =~ ^0[0-7]{3}$ ]] || { echo "bad mode for $glob: $mode"; return 1; }
        [ "$group" = "$rc_group" ] || { echo "$glob: group $group is not the service's ($rc_group)"; return 1; }
        sample=${glob//\*/0}
        [ -n "$(label_of "$sample" "$FC")" ] || { echo "$sample ($glob) has no file_contexts label"; return 1; }
    done <"$UEV"
    [ "$n" -gt 0 ] || { echo "no entries"; return 1; }
}
check "ueventd fragment: nodes owned by the service group and labelled in file_contexts" uevent_nodes_ok

# ---------------------------------------------------------------- (d) AIDL
API="$ROOT/aidl/aidl_api/$pkg"
# system/tools/aidl build/hash_gen.sh: sha1 over the sorted per-file sha1sum lines of the
# version directory, followed by the previous version number ("latest-version" for 1).
aidl_hash() {
    local ver=$1 prev=latest-version
    [ "$ver" -gt 1 ] && prev=$((ver - 1))
    (cd "$API/$ver" && { find ./ -name '*.aidl' -print0 | LC_ALL=C sort -z | xargs -0 sha1sum && echo "$prev"; }) |
        sha1sum | cut -d' ' -f1
}
for dir in "$API"/[0-9]*; do
    ver=${dir##*/}
    check "aidl_api $ver/.hash matches AOSP's hash of the snapshot" \
        agree "$(tail -n1 "$dir/.hash")" "$(aidl_hash "$ver")"
done
# The declarations in sources, frozen version and current/ must be the same API:
# strip comments, imports, the package line and whitespace, qualify same-package names
# the way --dumpapi prints them, put annotations in one order and constants last.
normalize() { # normalize FILE: one token line per declaration, comparable across forms
    local name
    name=$(basename "$1" .aidl)
    sed -e 's://.*$::' "$1" | tr '\n' ' ' | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/::g' |
        sed -E -e 's/\bimport [a-zA-Z0-9_.]+;//g' -e 's/\bpackage [a-zA-Z0-9_.]+;//' \
            -e "s/\\b$pkg\\.//g" -e 's/[[:space:]]+/ /g' -e 's/ *([][{}();,=]) */\1/g' -e 's/ *@/ @/g' -e 's/^ +//' |
        awk -v name="$name" '{
            # annotations before the declaration keyword, sorted; oneway moved onto methods
            match($0, /(parcelable|union|enum|(oneway )?interface) /); head = substr($0, 1, RSTART - 1)
            body = substr($0, RSTART); n = split(head, ann, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && ann[j - 1] > ann[j]; j--) {
                t = ann[j]; ann[j] = ann[j - 1]; ann[j - 1] = t }
            h = ""
            for (i = 1; i <= n; i++) if (ann[i] != "") h = h ann[i] " "
            ow = (body ~ /^oneway interface/); if (ow) sub(/^oneway /, "", body)
            # split members; constants last
            open = index(body, "{"); decl = substr(body, 1, open); rest = substr(body, open + 1)
            sub(/}[ ]*$/, "", rest); m = split(rest, mem, ";"); c = ""; o = ""
            for (i = 1; i <= m; i++) { x = mem[i]; gsub(/^ +| +$/, "", x); if (x == "") continue
                if (ow && x !~ /^oneway /) x = "oneway " x
                if (x ~ /^const /) c = c x ";"; else o = o x ";" }
            print h decl o c "}" }'
}
api_equal() { # api_equal DIR_A DIR_B
    local a=$1 b=$2 f rel na nb
    diff <(cd "$a" && find . -name '*.aidl' | sort) <(cd "$b" && find . -name '*.aidl' | sort) || return 1
    for f in $(cd "$a" && find . -name '*.aidl' | sort); do
        rel=${f#./}
        na=$(normalize "$a/$rel") && nb=$(normalize "$b/$rel") || { echo "cannot normalize $rel"; return 1; }
        # A declaration always normalizes to "...<kind> <Name>{...}"; anything else is a bug here.
        [[ $na == *" $(basename "$rel" .aidl){"* ]] || { echo "normalizer output unusable for $rel: '$na'"; return 1; }
        [ "$na" = "$nb" ] || { echo "differs: $rel"; diff <(echo "$na") <(echo "$nb"); return 1; }
    done
}
mkdir -p "$WORK/src-api/vendor"
cp -r "$ROOT/aidl/vendor/drivervm" "$WORK/src-api/vendor/"
check "frozen V$frozen declares exactly the source API (frozen: true)" api_equal "$WORK/src-api" "$API/$frozen"
check "current/ equals frozen V$frozen" api_equal "$API/current" "$API/$frozen"
# The comparison can fail: a changed method signature in a copy is detected.
mkdir -p "$WORK/mut-api/vendor"
cp -r "$ROOT/aidl/vendor/drivervm" "$WORK/mut-api/vendor/"
sed -i 's/DeviceStatus getDevice(in String id);/DeviceStatus getDevice(in String deviceId);/' "$WORK/mut-api/vendor/drivervm/IDriverVm.aidl"
api_differs() { ! api_equal "$@" >/dev/null; }
check "snapshot comparison notices an API change" api_differs "$WORK/mut-api" "$API/$frozen"

if command -v aidl >/dev/null 2>&1; then
    # In a child shell: Debian's aidl 10 crashes after reporting the annotation error.
    if bash -c 'aidl --lang=cpp -I "$1" -h "$2/h" -o "$2/o" "$1/vendor/drivervm/IDriverVm.aidl"; exit $?' \
        _ "$ROOT/aidl" "$WORK/aidl" >"$WORK/out" 2>&1; then
        pass "Debian aidl compiles IDriverVm.aidl (second opinion)"
    elif grep -q "not a recognized annotation" "$WORK/out"; then
        skip "Debian aidl predates stable AIDL (@VintfStability unknown); rsbinder-aidl is the check"
    else
        fail "Debian aidl compiles IDriverVm.aidl"
        sed 's/^/    /' "$WORK/out" | head -10
    fi
else
    skip "Debian aidl not installed (Android 10's compiler cannot parse stable AIDL anyway)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
