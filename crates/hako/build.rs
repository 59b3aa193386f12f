// Records the git commit for `hako --version`, and lays out the release binary's hot code.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=HAKO_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    symbol_order();
}

/// The kernel maps a file's pages 64 KiB at a time around each page a process touches
/// ("fault-around"), so a command's resident memory is about 64 KiB per distinct window of
/// the binary it runs code from. Placing the functions the common commands run (listed in
/// hot-symbols.txt, made by scripts/hot-symbols.sh) together at the start of .text makes that a
/// few windows instead of most of the binary. Only for release builds linked by LLD (the
/// default linker of Rust >= 1.90 on x86_64 Linux); a symbol the list names that no longer
/// exists is skipped, so a stale list costs memory, never correctness.
fn symbol_order() {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    println!("cargo:rerun-if-changed=hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=HAKO_NO_SYMBOL_ORDER");
    if env("PROFILE") != "release"
        || env("TARGET") != "x86_64-unknown-linux-gnu"
        || std::env::var_os("HAKO_NO_SYMBOL_ORDER").is_some()
        || !rustc_uses_lld()
    {
        return;
    }
    let list = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
    if list.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Rust 1.90 made rust-lld the default linker on x86_64-unknown-linux-gnu.
fn rustc_uses_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-V").output() else {
        return false;
    };
    let v = String::from_utf8_lossy(&out.stdout);
    let minor = v
        .split_whitespace()
        .nth(1)
        .and_then(|ver| ver.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    matches!(minor, Some(m) if m >= 90)
}
