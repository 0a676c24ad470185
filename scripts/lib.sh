# Shared shell helpers for scripts/setup, scripts/test and the build. Source it; it runs nothing.

# Where the datasets live: $CONVNET_DATA, else the user cache dir. ts/ searches the same places.
convnet_data_root() {
  printf '%s\n' "${CONVNET_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/convnet-wasm}"
}

# CONVNET_TOOLCHAIN picks the wasm toolchain: `auto` (default: rustup's when it has the target,
# else Debian's), `rustup` or `debian` (to use, or test, one path on a machine that has both).
convnet_toolchain() { printf '%s\n' "${CONVNET_TOOLCHAIN:-auto}"; }

# True when rustup's toolchain has a wasm32 std and may be used.
rustup_has_wasm32() {
  [ "$(convnet_toolchain)" != debian ] && command -v rustup >/dev/null 2>&1 &&
    rustup target list --installed 2>/dev/null | grep -qx 'wasm32-unknown-unknown'
}

# The wasm32 std that scripts/setup builds for Debian's rustc (see shared TOOLCHAIN.md).
debian_wasm32_sysroot() { printf '%s\n' /usr/lib/rustlib/wasm32-unknown-unknown/lib; }

# std for building, test for `cargo test --target wasm32-unknown-unknown`.
debian_has_wasm32() {
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] &&
    compgen -G "$(debian_wasm32_sysroot)/libstd-*.rlib" >/dev/null &&
    compgen -G "$(debian_wasm32_sysroot)/libtest-*.rlib" >/dev/null
}

# Prints the PATH under which `cargo build --target wasm32-unknown-unknown` works:
# rustup's toolchain when it has the target, else Debian's rustc-web put first.
# Cargo-installed tools (wasm-pack, wasm-bindgen) stay reachable either way.
wasm_build_path() {
  local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if rustup_has_wasm32; then
    printf '%s\n' "$PATH"
  elif debian_has_wasm32; then
    printf '%s\n' "/usr/bin:$PATH:$cargo_bin"
  else
    echo "no Rust toolchain with the wasm32-unknown-unknown target: run scripts/setup" >&2
    return 1
  fi
}

# The exact wasm-bindgen version in Cargo.lock (the CLI must match it).
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$1/Cargo.lock"
}
