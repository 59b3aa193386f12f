//! A bounded fuzz run over config.json parsing, validation and seccomp compilation: structured
//! mutations of real configs (runc's default spec, with and without podman's seccomp profile)
//! must never panic, whatever they contain. Runs for `HAKO_FUZZ_SECS` seconds (default 8) with a
//! seed from `HAKO_FUZZ_SEED` (printed, so a failure can be replayed). cargo-fuzz would need a
//! nightly toolchain, which these machines do not have; this keeps the same property in CI.
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const STRINGS: &[&str] = &[
    "",
    "/",
    "..",
    "../x",
    "/proc/self/fd/3",
    "a\u{0}b",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_ERRNO",
    "CAP_SYS_ADMIN",
    "CAP_NOT_A_CAP",
    "RLIMIT_NOFILE",
    "pid",
    "network",
    "user",
    "time",
    "bind",
    "rbind",
    "ro",
    "rro",
    "idmap",
    "tmpfs",
    "cgroup",
    "proc",
    "shared",
    "rshared",
    "unbindable",
    "x86_64",
    "SCMP_ARCH_X86",
    "mkdir",
    "SCMP_CMP_MASKED_EQ",
    "0-1",
    "1000-1001",
    "MPOL_BIND",
    "LINUX32",
    "é",
    "\u{202e}",
];

fn random_value(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!([-1i64, 0, 1, 7, 65535, 1 << 40, i64::MIN, i64::MAX][r.below(8)]),
        3 => json!([0.5f64, -1.5, 1e300][r.below(3)]),
        4 => json!(STRINGS[r.below(STRINGS.len())]),
        5 => json!("x".repeat(r.below(5000))),
        6 => Value::Array(
            (0..r.below(4))
                .map(|_| random_value(r, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(4) {
                m.insert(
                    STRINGS[r.below(STRINGS.len())].to_string(),
                    random_value(r, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

/// Mutate one random node of `v` (walking down a random path).
fn mutate(r: &mut Rng, v: &mut Value, depth: usize) {
    let descend = r.below(4) != 0 && depth < 8;
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = &keys[r.below(keys.len())];
            match r.below(10) {
                0 => {
                    m.remove(k);
                }
                1 => {
                    let val = random_value(r, depth);
                    m.insert(STRINGS[r.below(STRINGS.len())].to_string(), val);
                }
                _ => {
                    if let Some(c) = m.get_mut(k) {
                        mutate(r, c, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = r.below(a.len());
            match r.below(8) {
                0 => {
                    a.remove(i);
                }
                1 => {
                    let c = a[i].clone();
                    a.push(c);
                }
                _ => mutate(r, &mut a[i], depth + 1),
            }
        }
        _ => *v = random_value(r, depth),
    }
}

#[test]
fn config_parsing_and_validation_never_panic() {
    let secs: u64 = std::env::var("HAKO_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("HAKO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("fuzz seed {seed} for {secs} s (replay: HAKO_FUZZ_SEED={seed})");
    let mut r = Rng(seed);
    let bundle = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(bundle.path().join("rootfs")).expect("rootfs");
    let mut seeds = vec![
        libhako::spec_default::default_spec(false),
        libhako::spec_default::default_spec(true),
    ];
    if let Ok(t) = std::fs::read_to_string("/usr/share/containers/seccomp.json") {
        if let Ok(sc) = serde_json::from_str::<Value>(&t) {
            let mut s = libhako::spec_default::default_spec(false);
            s["linux"]["seccomp"] = sc;
            seeds.push(s);
        }
    }
    let small_seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99,
         "args": [{"index": 1, "value": 511, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]});
    let mut s = libhako::spec_default::default_spec(false);
    s["linux"]["seccomp"] = small_seccomp;
    seeds.push(s);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    let mut parsed = 0u64;
    while Instant::now() < deadline {
        let mut v = seeds[r.below(seeds.len())].clone();
        for _ in 0..1 + r.below(4) {
            mutate(&mut r, &mut v, 0);
        }
        let text = v.to_string();
        runs += 1;
        if let Ok(spec) = libhako::bundle::parse_config(&text) {
            parsed += 1;
            let _ = libhako::validate::validate(&spec, bundle.path());
            let _ = libhako::check::check_host(&spec);
            if let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
                if libhako::seccomp::validate(sc).is_ok()
                    && sc.syscalls().as_ref().map_or(0, |s| s.len()) < 8
                {
                    let _ = libhako::seccomp::compile(sc);
                }
            }
        }
        // Byte-level damage too: truncations of the text.
        if r.below(8) == 0 {
            let cut = r.below(text.len().max(1));
            let _ = libhako::bundle::parse_config(&text[..text.floor_char_boundary(cut)]);
        }
    }
    println!("fuzz: {runs} inputs, {parsed} parsed, no panic");
    assert!(runs > 100, "the fuzz loop barely ran ({runs} inputs)");
}
