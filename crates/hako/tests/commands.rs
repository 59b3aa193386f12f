//! The rest of runc's command line: socket activation (LISTEN_FDS), `features` (features.md),
//! `spec`, `check` (hako's own), and runc's exit codes and error texts side by side.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test commands` (the hako-only tests return early).

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const RUNC: &str = "/usr/sbin/runc";

fn runc_available() -> bool {
    Path::new(RUNC).exists()
}

// ---------------------------------------------------------------------------------------------
// Socket activation
// ---------------------------------------------------------------------------------------------

/// `sh -c 'LISTEN_PID=<pid> LISTEN_FDS=1 exec RUNTIME run ...' 3<file`; returns the output of
/// the container's `echo ENV:$LISTEN_FDS:$LISTEN_PID; checker fds`.
fn run_with_listen_fds(env: &TestEnv, listen_pid: &str) -> (String, Vec<Value>) {
    let b = env.bundle(&["sh", "-c", "echo ENV:$LISTEN_FDS:$LISTEN_PID; /checker fds"]);
    let id = env.id();
    let file = env.base().join(format!("activation-{id}"));
    fs::write(&file, "socket-activated").unwrap();
    let f = fs::File::open(&file).unwrap();
    let script = format!(
        "LISTEN_PID={listen_pid} LISTEN_FDS=1 exec {} run -b {} {id}",
        env.runtime_cmdline(),
        b.path.display()
    );
    let o = env.shell(&script, Some(&f));
    o.assert_ok();
    let (first, rest) = o.stdout.split_once('\n').unwrap_or_else(|| panic!("{o}"));
    let v: Value = serde_json::from_str(rest.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    (first.to_string(), v["fds"].as_array().unwrap().clone())
}

// runc / systemd socket activation: with LISTEN_FDS=N and LISTEN_PID = the runtime's pid, fds
// 3 .. 3+N-1 are passed to the container, whose process sees LISTEN_FDS=N and LISTEN_PID=1.
#[test]
fn socket_activation_passes_listen_fds() {
    let env = TestEnv::new("listenfds");
    let (line, fds) = run_with_listen_fds(&env, "$$");
    assert_eq!(line, "ENV:1:1", "LISTEN_FDS:LISTEN_PID in the container");
    let nums: Vec<i64> = fds.iter().map(|f| f["fd"].as_i64().unwrap()).collect();
    assert_eq!(nums, [0, 1, 2, 3], "{fds:?}");
    assert_eq!(fds[3]["content"], "socket-activated", "{fds:?}");
}

// LISTEN_PID naming another process: the fds are not for the runtime; nothing is passed.
#[test]
fn socket_activation_ignored_for_another_pid() {
    let env = TestEnv::new("listenother");
    let (line, fds) = run_with_listen_fds(&env, "1");
    assert_eq!(line, "ENV::", "LISTEN_FDS:LISTEN_PID in the container");
    let nums: Vec<i64> = fds.iter().map(|f| f["fd"].as_i64().unwrap()).collect();
    assert_eq!(nums, [0, 1, 2], "{fds:?}");
}

// ---------------------------------------------------------------------------------------------
// features
// ---------------------------------------------------------------------------------------------

fn features(env: &TestEnv) -> Value {
    let o = env.cmd(&["features"]);
    o.assert_ok();
    o.json()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

// features.md: "the features document MUST adhere to schema/features-schema.json" — validated
// with the `jsonschema` crate, $refs resolved from the schema directory.
#[test]
fn features_validate_against_schema() {
    let env = TestEnv::new("featschema");
    let doc = features(&env);
    let dir = fs::canonicalize(spec_dir().join("schema")).unwrap();
    let path = dir.join("features-schema.json");
    let schema: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_base_uri(format!("file://{}", path.display()))
        .build(&schema)
        .unwrap_or_else(|e| panic!("compiling {}: {e}", path.display()));
    let errs: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "features vs schema: {errs:?}\n{doc:#}");
    // The schema check works: a bad document is caught (a capability not matching ^CAP_).
    let mut bad = doc.clone();
    bad["linux"]["capabilities"] = json!(["not_a_cap"]);
    bad["hooks"] = json!("prestart");
    assert!(
        v.iter_errors(&bad).count() >= 2,
        "schema validation is a no-op"
    );
}

// features.md "mountOptions", "hooks", "linux.namespaces": the document is built from the
// code's own tables.
#[test]
fn features_lists_match_the_code() {
    if !is_hako() {
        return;
    }
    let env = TestEnv::new("feattables");
    let f = features(&env);
    assert_eq!(
        strings(&f["mountOptions"]),
        libhako::features::MOUNT_OPTIONS
    );
    assert_eq!(strings(&f["hooks"]), libhako::features::HOOKS);
    assert_eq!(
        strings(&f["linux"]["namespaces"]),
        libhako::features::NAMESPACES
    );
    assert_eq!(f["ociVersionMax"], "1.3.0");
}

/// Every mount option named in config.md's table or by runc 1.1's `features`.
const KNOWN_MOUNT_OPTIONS: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

// features.md "mountOptions": "the list of the mount options supported by the runtime" — an
// option the mount code understands (not passed on as filesystem data) is advertised too.
#[test]
fn features_advertise_every_understood_mount_option() {
    if !is_hako() {
        return;
    }
    let advertised: BTreeSet<&str> = libhako::features::MOUNT_OPTIONS.iter().copied().collect();
    let missing: Vec<&str> = KNOWN_MOUNT_OPTIONS
        .iter()
        .copied()
        .filter(|o| {
            let p = libhako::rootfs::parse_options(&[o.to_string()]);
            p.data.is_empty() && !advertised.contains(o)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "understood but not advertised: {missing:?}"
    );
}

/// The recursive (mount_setattr AT_RECURSIVE) options of config.md's table.
const RECURSIVE: &[&str] = &[
    "ratime",
    "rdev",
    "rdiratime",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "rrelatime",
    "rro",
    "rrw",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
];

/// A mount at `/mnt/o<i>` exercising `opt`: a bind mount for bind/rbind/remount (remount only
/// makes sense on top of a bind) and for the recursive options (runc 1.1 applies those to bind
/// mounts only), else a tmpfs.
fn option_mount(i: usize, opt: &str, src: &Path) -> Value {
    let dest = format!("/mnt/o{i}");
    match opt {
        "bind" | "rbind" => json!({"destination": dest, "type": "bind",
            "source": src.to_str().unwrap(), "options": [opt]}),
        o if RECURSIVE.contains(&o) => json!({"destination": dest, "type": "bind",
            "source": src.to_str().unwrap(), "options": ["rbind", opt]}),
        "remount" => json!({"destination": dest, "type": "bind",
            "source": src.to_str().unwrap(), "options": ["rbind", "remount", "ro"]}),
        _ => json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": [opt, "size=1m"]}),
    }
}

/// What `opt` must show in the mount's mountinfo entry (None: nothing visible to check).
fn option_effect(opt: &str) -> Option<(&'static str, &'static str)> {
    Some(match opt {
        "ro" | "rro" | "remount" => ("options", "ro"),
        "rw" | "rrw" => ("options", "rw"),
        "nosuid" | "rnosuid" => ("options", "nosuid"),
        "nodev" | "rnodev" => ("options", "nodev"),
        "noexec" | "rnoexec" => ("options", "noexec"),
        "noatime" | "rnoatime" => ("options", "noatime"),
        "nodiratime" | "rnodiratime" => ("options", "nodiratime"),
        "relatime" | "rrelatime" => ("options", "relatime"),
        "nosymfollow" | "rnosymfollow" => ("options", "nosymfollow"),
        "sync" => ("super_options", "sync"),
        "dirsync" => ("super_options", "dirsync"),
        "lazytime" => ("super_options", "lazytime"),
        "shared" | "rshared" => ("propagation", "shared"),
        "unbindable" | "runbindable" => ("propagation", "unbindable"),
        "private" | "rprivate" => ("propagation", "private"),
        _ => return None,
    })
}

/// Runs the checker with one mount per option; Ok(report) or Err(output).
fn run_with_options(env: &TestEnv, opts: &[&str]) -> Result<Value, String> {
    let b = env.bundle_with(|s, shared| {
        let src = shared.join("src");
        fs::create_dir_all(&src).unwrap();
        for (i, o) in opts.iter().enumerate() {
            s["mounts"]
                .as_array_mut()
                .unwrap()
                .push(option_mount(i, o, &src));
        }
        // "bind" mounts are only visible under an rslave/shared root: keep the default.
    });
    let id = env.id();
    let o = env.run(&b, &id);
    if o.ok() {
        Ok(o.json())
    } else {
        Err(o.to_string())
    }
}

// features.md "mountOptions" in step with the code: every advertised option works in a real
// mount (one container with one mount per option), with its visible effect in mountinfo.
#[test]
fn features_every_mount_option_works() {
    let env = TestEnv::new("featmounts");
    let f = features(&env);
    let opts = strings(&f["mountOptions"]);
    let opts: Vec<&str> = opts
        .iter()
        .map(String::as_str)
        // runc 1.1's extras that are not mount options of a plain tmpfs.
        .filter(|o| !["acl", "noacl", "tmpcopyup"].contains(o))
        // DIFFERS: runc 1.1.5 advertises these but fails them with EINVAL ("defaults" is
        // passed to the filesystem as data; "remount" on a bind mount; "ratime" and
        // "rnostrictatime" in mount_setattr).
        .filter(|o| is_hako() || !["defaults", "remount", "ratime", "rnostrictatime"].contains(o))
        .collect();
    let report = match run_with_options(&env, &opts) {
        Ok(r) => r,
        Err(all) => {
            // Find the culprits one by one.
            let bad: Vec<String> = opts
                .iter()
                .filter_map(|o| {
                    run_with_options(&env, &[o])
                        .err()
                        .map(|e| format!("{o}: {e}"))
                })
                .collect();
            panic!(
                "advertised mount options that fail:\n{}\n(all at once: {all})",
                bad.join("\n")
            );
        }
    };
    let mut wrong = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let mp = format!("/mnt/o{i}");
        let Some(m) = mount_at(&report, &mp) else {
            wrong.push(format!("{o}: no mount at {mp}"));
            continue;
        };
        // nosymfollow: see nosymfollow_mount_option_applies (hako bug).
        if is_hako() && *o == "nosymfollow" {
            continue;
        }
        if let Some((field, token)) = option_effect(o) {
            let ok = match &m[field] {
                Value::String(s) => s.split(',').any(|t| t == token),
                Value::Array(a) => a.iter().any(|t| t == token),
                _ => false,
            };
            if !ok {
                wrong.push(format!("{o}: {field} lacks {token}: {m}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "mount options without effect:\n{}",
        wrong.join("\n")
    );
}

// config.md "Mounts" `nosymfollow` (MS_NOSYMFOLLOW, Linux 5.10): the mount gets the
// nosymfollow flag, as with runc.
#[test]
fn nosymfollow_mount_option_applies() {
    let env = TestEnv::new("nosymfollow");
    let r = run_with_options(&env, &["nosymfollow"]).unwrap();
    let m = mount_at(&r, "/mnt/o0").expect("mount at /mnt/o0");
    assert!(mount_has_opt(m, "nosymfollow"), "{m}");
}

/// /proc/PID/ns file name of a config.md namespace type.
fn ns_file(t: &str) -> &str {
    match t {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}

// features.md "linux.namespaces" in step with the code: a container with every advertised
// namespace type runs, each namespace new.
#[test]
fn features_every_namespace_can_be_created() {
    let env = TestEnv::new("featns");
    let f = features(&env);
    let types = strings(&f["linux"]["namespaces"]);
    let b = env.bundle_with(|s, _| {
        let ns: Vec<Value> = types.iter().map(|t| json!({"type": t})).collect();
        s["linux"]["namespaces"] = json!(ns);
        if types.iter().any(|t| t == "user") {
            let map = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
            s["linux"]["uidMappings"] = map.clone();
            s["linux"]["gidMappings"] = map;
        }
    });
    let r = env.run_checker(&b);
    for t in &types {
        let n = ns_file(t);
        assert_ne!(
            r["namespaces"][n].as_str(),
            Some(ns_of("self", n).as_str()),
            "advertised namespace {t} is the host's: {}",
            r["namespaces"]
        );
    }
}

// features.md "hooks" in step with the code: every advertised hook runs (runtime-namespace
// hooks on the host, createContainer/startContainer in the container).
#[test]
fn features_every_hook_runs() {
    let env = TestEnv::new("feathooks");
    let f = features(&env);
    let hooks = strings(&f["hooks"]);
    let b = env.bundle_with(|s, shared| {
        let mut h = serde_json::Map::new();
        for name in &hooks {
            // createContainer runs in the container's namespaces before pivot_root: the
            // host path of the shared dir is still reachable there.
            let target = match name.as_str() {
                "startContainer" => format!("/shared/{name}"),
                "prestart" | "createRuntime" | "createContainer" | "poststart" | "poststop" => {
                    shared.join(name).display().to_string()
                }
                other => panic!("advertised hook {other:?} unknown to this test"),
            };
            h.insert(
                name.clone(),
                json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("echo ran > {target}")]}]),
            );
        }
        s["hooks"] = Value::Object(h);
    });
    let id = env.id();
    env.run(&b, &id).assert_ok();
    let missing: Vec<&String> = hooks
        .iter()
        .filter(|h| !b.shared_file(h).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "advertised hooks that did not run: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// spec
// ---------------------------------------------------------------------------------------------

fn spec_in(env: &TestEnv, rootless: bool) -> Value {
    let dir = env.base().join(format!("spec-{}", env.id()));
    fs::create_dir(&dir).unwrap();
    let mut args = vec!["spec", "-b", dir.to_str().unwrap()];
    if rootless {
        args.push("--rootless");
    }
    env.cmd(&args).assert_ok();
    serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

// runc `spec` / `spec --rootless`: the same default config.json as runc's, but for ociVersion.
#[test]
fn spec_matches_runc() {
    let env = TestEnv::new("spec");
    let mine = spec_in(&env, false);
    let mine_rootless = spec_in(&env, true);
    assert!(mine["ociVersion"].is_string(), "{mine}");
    assert_eq!(mine["process"]["terminal"], true, "{mine}");
    assert!(
        mine_rootless["linux"]["uidMappings"].is_array(),
        "{mine_rootless}"
    );
    if !runc_available() || !is_hako() {
        return;
    }
    let renv = TestEnv::with_runtime("specrunc", PathBuf::from(RUNC));
    for (mut a, mut b) in [
        (mine, spec_in(&renv, false)),
        (mine_rootless, spec_in(&renv, true)),
    ] {
        a.as_object_mut().unwrap().remove("ociVersion");
        b.as_object_mut().unwrap().remove("ociVersion");
        assert_eq!(a, b, "hako spec vs runc spec");
    }
}

// runc `spec`: refuses to overwrite an existing config.json (exit 1, says so; file unchanged).
#[test]
fn spec_refuses_to_overwrite() {
    let env = TestEnv::new("specexists");
    let dir = env.base().join("specdir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("config.json"), "keep me").unwrap();
    let o = env.cmd(&["spec", "-b", dir.to_str().unwrap()]);
    assert_eq!(o.code, Some(1), "{o}");
    o.assert_err_mentions(&["exists"]);
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "keep me"
    );
    let o = env.cmd(&["spec", "--rootless", "-b", dir.to_str().unwrap()]);
    assert_eq!(o.code, Some(1), "{o}");
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "keep me"
    );
}

// ---------------------------------------------------------------------------------------------
// check (hako only)
// ---------------------------------------------------------------------------------------------

// hako `check`: a good bundle passes ("ok", exit 0) and nothing is created.
#[test]
fn check_good_bundle() {
    if !is_hako() {
        return;
    }
    let env = TestEnv::new("checkgood");
    let b = env.bundle(&["/checker"]);
    let o = env.cmd(&["check", "-b", b.path.to_str().unwrap()]);
    o.assert_ok();
    assert!(o.stdout.contains("ok"), "{o}");
    assert!(!o.stdout.contains("error"), "{o}");
    assert_eq!(fs::read_dir(env.root()).unwrap().count(), 0);
}

// hako `check`: every problem of a bad bundle is printed with its JSON path (spec problems and
// host problems together), the exit code is non-zero, and nothing is created (no state dir,
// no cgroup).
#[test]
fn check_reports_every_problem() {
    if !is_hako() {
        return;
    }
    let env = TestEnv::new("checkbad");
    let mut nofile = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) },
        0
    );
    let cg = format!("{}-cg", env.id());
    let me = std::process::id();
    let b = env.bundle_with(|s, _| {
        s["process"]["cwd"] = json!("relative/dir");
        s["linux"]["sysctl"] = json!({"net.nope.bogus_key": "1"});
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": nofile.rlim_max + 1}
        ]);
        // A network namespace "joined" through an ipc namespace file.
        for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = json!(format!("/proc/{me}/ns/ipc"));
            }
        }
        s["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
        s["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    let o = env.cmd_without_cap_sys_resource(&["check", "-b", b.path.to_str().unwrap()]);
    o.assert_err();
    let lines: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    for (path, word) in [
        ("process.cwd", "absolute"),
        ("linux.sysctl.net.nope.bogus_key", "does not exist"),
        ("process.rlimits[0].hard", "hard limit"),
        ("linux.namespaces[1].path", "ipc"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(path) && l.contains(word)),
            "no error for {path} (mentioning {word:?}): {o}"
        );
    }
    assert!(o.stderr.contains("problem"), "{o}");
    assert_eq!(
        fs::read_dir(env.root()).unwrap().count(),
        0,
        "state created"
    );
    assert!(cgroup_dirs(&cg).is_empty(), "{:?}", cgroup_dirs(&cg));
    // The same bundle really fails create (check agrees with create), leaving nothing.
    let id = env.id();
    env.create(&b, &id).assert_err();
    env.assert_nothing_left(&id, &b);
    assert!(cgroup_dirs(&cg).is_empty(), "{:?}", cgroup_dirs(&cg));
}

// ---------------------------------------------------------------------------------------------
// runc compatibility: exit codes and error texts
// ---------------------------------------------------------------------------------------------

/// (label, exit code, stdout, stderr) of a fixed sequence of calls.
fn compat_scenario(env: &TestEnv) -> Vec<(&'static str, Option<i32>, String, String)> {
    let mut v = Vec::new();
    let mut rec = |label: &'static str, o: Out| v.push((label, o.code, o.stdout, o.stderr));
    rec(
        "list json on an empty root",
        env.cmd(&["list", "--format", "json"]),
    );
    let ghost = format!("{}-ghost", env.name);
    env.register(&ghost);
    rec("delete missing", env.delete(&ghost));
    rec("delete --force missing", env.delete_force(&ghost));
    rec("delete --force missing again", env.delete_force(&ghost));
    rec("state missing", env.cmd(&["state", &ghost]));
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    rec("start running", env.start(&id));
    rec("kill bad signal name", env.kill(&id, "SIGNOPE"));
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    rec("kill stopped", env.kill(&id, "TERM"));
    env.delete(&id).assert_ok();
    v
}

/// What runc 1.1 does for each call: exit code and a phrase of its error text.
fn compat_expected(label: &str) -> (i32, &'static str) {
    match label {
        "list json on an empty root" => (0, ""),
        "delete missing" => (1, "does not exist"),
        "delete --force missing" | "delete --force missing again" => (0, ""),
        "state missing" => (1, "does not exist"),
        // DIFFERS: runc says "cannot start an already running container", hako "cannot start
        // container \"ID\": it is running, not created".
        "start running" => (1, "running"),
        "kill bad signal name" => (1, "signal"),
        "kill stopped" => (1, "container not running"),
        other => panic!("unknown label {other}"),
    }
}

fn check_compat(runtime: &str, got: &[(&'static str, Option<i32>, String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (label, code, stdout, stderr) in got {
        let (want, phrase) = compat_expected(label);
        if *code != Some(want) {
            bad.push(format!(
                "{runtime} `{label}`: exit {code:?}, want {want}; {stderr}"
            ));
        }
        if !stderr.to_lowercase().contains(&phrase.to_lowercase()) {
            bad.push(format!(
                "{runtime} `{label}`: stderr lacks {phrase:?}: {stderr}"
            ));
        }
        if *label == "list json on an empty root" {
            // DIFFERS: runc 1.1 prints `null` (a nil Go slice); hako prints `[]`.
            let v: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Bool(false));
            let ok = v == json!([]) || (runtime == "runc" && v.is_null());
            if !ok {
                bad.push(format!("{runtime} `{label}`: stdout {stdout:?}"));
            }
        }
    }
    bad
}

// runc's exit codes and error texts for: kill of a stopped container, delete --force of a
// missing container (twice), delete / state of a missing container, start of a running one,
// kill with a bad signal name, list --format json on an empty root. Run on hako and on runc.
#[test]
fn exit_codes_and_errors_like_runc() {
    let env = TestEnv::new("compat");
    let got = compat_scenario(&env);
    let mut bad = check_compat(&runtime_name(), &got);
    if runc_available() && is_hako() {
        let renv = TestEnv::with_runtime("compatrunc", PathBuf::from(RUNC));
        let reference = compat_scenario(&renv);
        bad.extend(check_compat("runc", &reference));
        for (a, b) in got.iter().zip(&reference) {
            if a.1 != b.1 {
                bad.push(format!("`{}`: hako exit {:?}, runc {:?}", a.0, a.1, b.1));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
