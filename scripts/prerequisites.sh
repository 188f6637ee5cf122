#!/usr/bin/env bash
# Checks that everything `make test` needs is here, before anything is built: the commands in
# scripts/prerequisites.txt, cargo (Rust 1.85 or later) with clippy and rustfmt, and the C
# library's static archive.
# As root with apt-get it installs the missing Debian packages; otherwise, or with --check, it
# names every missing command and its package in one message and exits 1.
# Only bash builtins are used, so that it runs whatever else is missing.
set -uo pipefail
cd "${0%/*}/.." || exit 1

install=yes
[[ ${1:-} == --check ]] && install=no

# command -> package, from the table.
declare -A package_of=()
commands=()
while read -r command package _; do
    [[ -z $command || $command == \#* ]] && continue
    package_of[$command]=$package
    commands+=("$command")
done < scripts/prerequisites.txt

# The Rust version Cargo.toml requires (rust-version), as "1.85".
rust_required=
while read -r line; do
    [[ $line =~ ^rust-version\ *=\ *\"([0-9.]+)\" ]] && rust_required=${BASH_REMATCH[1]} && break
done < Cargo.toml

# Whether "MAJOR.MINOR[.PATCH]" $1 is at least $2.
at_least() {
    local -a have want
    IFS=. read -ra have <<< "$1"
    IFS=. read -ra want <<< "$2"
    ((have[0] > want[0] || (have[0] == want[0] && ${have[1]:-0} >= ${want[1]:-0})))
}

# Fills `missing` with "command<TAB>package" lines, one per missing thing.
find_missing() {
    missing=()
    local command
    for command in "${commands[@]}"; do
        # type -P searches PATH only: `kill` must be the program, not the shell's builtin.
        type -P "$command" >/dev/null || missing+=("$command"$'\t'"${package_of[$command]}")
    done
    # `cc -static` in the command's tests needs libc.a.
    local archive
    if type -P cc >/dev/null; then
        archive=$(cc -print-file-name=libc.a 2>/dev/null)
        [[ $archive == /* ]] || missing+=("libc.a (for cc -static)"$'\t'libc6-dev)
    fi
    # The Kubernetes manifest in docs/ is checked with Debian's python3 and its yaml module.
    /usr/bin/python3 -c 'import yaml' 2>/dev/null || missing+=("python3's yaml module"$'\t'python3-yaml)
    local cargo_version
    if ! type -P cargo >/dev/null; then
        missing+=("cargo $rust_required or later"$'\t'"rustup (https://rustup.rs)")
    elif cargo_version=$(cargo --version 2>/dev/null) && [[ $cargo_version =~ ^cargo\ ([0-9]+\.[0-9]+) ]] &&
        ! at_least "${BASH_REMATCH[1]}" "$rust_required"; then
        missing+=("cargo $rust_required or later (this is ${BASH_REMATCH[1]})"$'\t'"rustup (https://rustup.rs)")
    elif ! cargo clippy --version >/dev/null 2>&1; then
        missing+=("cargo clippy"$'\t'"rustup (rustup component add clippy)")
    fi
    if type -P cargo >/dev/null && ! cargo fmt --version >/dev/null 2>&1; then
        missing+=("cargo fmt"$'\t'"rustup (rustup component add rustfmt)")
    fi
}

# The Debian packages among the missing things (rustup is not one).
debian_packages() {
    local entry package
    declare -A seen=()
    for entry in "${missing[@]}"; do
        package=${entry#*$'\t'}
        [[ $package == rustup* || -n ${seen[$package]:-} ]] && continue
        seen[$package]=1
        printf '%s ' "$package"
    done
}

find_missing
((${#missing[@]})) || exit 0

packages=$(debian_packages)
if [[ $install == yes && -n $packages && $EUID == 0 ]] && type -P apt-get >/dev/null; then
    echo "make test: installing ${packages% }" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Word splitting of $packages is intended: one argument per package.
    # shellcheck disable=SC2086
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $packages >&2
    find_missing
    ((${#missing[@]})) || exit 0
    packages=$(debian_packages)
fi

{
    echo "make test needs these, missing here (command: how to get it):"
    for entry in "${missing[@]}"; do
        printf '  %-40s %s\n' "${entry%%$'\t'*}" "${entry#*$'\t'}"
    done
    [[ -n $packages ]] && echo "As root: apt-get install ${packages% }   (or run make test as root)"
} >&2
exit 1
