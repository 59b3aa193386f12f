//! A fast path for the command lines engines send on every container operation (`create`,
//! `run`, `start`, `state`, `kill`, `delete`, `list` with the usual options). clap builds a
//! description of the whole command line before it parses one argument; that was about a fifth
//! of a `hako state` (0.2 ms of 1). This parser knows only those commands and options, spelled
//! the plain way; anything else (help, an unknown option, `-b=X`, a value that starts with `-`,
//! a missing or extra argument, non-UTF-8) returns None and clap parses the line, with its
//! errors and help. The tests check the two agree on every line this accepts.
use crate::{Cli, Cmd, CreateArgs};
use std::ffi::OsString;
use std::path::PathBuf;

/// The options every subcommand accepts (clap's `global = true`): `Some(taken)` when `arg` is
/// one, `taken` being whether it consumed the next argument.
fn global(cli: &mut Cli, arg: &str, next: Option<&str>) -> Option<Option<bool>> {
    let (name, inline) = match arg.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (arg, None),
    };
    let value = |v: Option<&str>| -> Option<(String, bool)> {
        match (inline, v) {
            (Some(i), _) => plain(i).map(|s| (s.to_string(), false)),
            (None, Some(n)) => plain(n).map(|s| (s.to_string(), true)),
            (None, None) => None,
        }
    };
    let flag = |set: &mut bool| -> Option<Option<bool>> {
        if inline.is_some() {
            return Some(None);
        }
        *set = true;
        Some(Some(false))
    };
    match name {
        "--root" => Some(value(next).map(|(v, t)| {
            cli.root = PathBuf::from(v);
            t
        })),
        "--log" => Some(value(next).map(|(v, t)| {
            cli.log = Some(PathBuf::from(v));
            t
        })),
        "--log-format" => Some(value(next).and_then(|(v, t)| {
            matches!(v.as_str(), "text" | "json").then(|| {
                cli.log_format = v;
                t
            })
        })),
        "--criu" => Some(value(next).map(|(v, t)| {
            cli.criu = Some(v);
            t
        })),
        "--debug" => flag(&mut cli.debug),
        "--systemd-cgroup" => flag(&mut cli.systemd_cgroup),
        _ => None,
    }
}

/// A value clap would take as it is: not empty, not starting with `-`.
fn plain(v: &str) -> Option<&str> {
    (!v.is_empty() && !v.starts_with('-')).then_some(v)
}

/// The options of one subcommand: what it recognises and where it stores them.
#[derive(Default)]
struct Sub {
    create: CreateArgs,
    detach: bool,
    keep: bool,
    no_subreaper: bool,
    force: bool,
    all: bool,
    quiet: bool,
    format: Option<String>,
    pos: Vec<String>,
}

impl Default for CreateArgs {
    fn default() -> Self {
        CreateArgs {
            bundle: PathBuf::from("."),
            pid_file: None,
            console_socket: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: 0,
        }
    }
}

/// Parse the command line, or None to leave it to clap.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Option<Cli> {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.into_string().ok())
        .collect::<Option<_>>()?;
    let mut cli = Cli {
        version: false,
        root: PathBuf::from("/run/hako"),
        log: None,
        log_format: "text".to_string(),
        debug: false,
        systemd_cgroup: false,
        criu: None,
        global_rootless: None,
        cmd: None,
    };
    let mut i = 0;
    // Before the subcommand: the global options only.
    let name = loop {
        let a = args.get(i)?;
        if !a.starts_with('-') {
            break a.as_str();
        }
        let taken = global(&mut cli, a, args.get(i + 1).map(String::as_str))??;
        i += 1 + usize::from(taken);
    };
    i += 1;
    let mut s = Sub::default();
    while let Some(a) = args.get(i) {
        let next = args.get(i + 1).map(String::as_str);
        if !a.starts_with('-') || a == "-" {
            s.pos.push(a.clone());
            i += 1;
            continue;
        }
        if let Some(taken) = global(&mut cli, a, next) {
            i += 1 + usize::from(taken?);
            continue;
        }
        let takes = |v: Option<&str>| plain(v?).map(str::to_string);
        let create_like = matches!(name, "create" | "run");
        match (name, a.as_str()) {
            (_, "-b" | "--bundle") if create_like => {
                s.create.bundle = PathBuf::from(takes(next)?);
                i += 1;
            }
            (_, "--pid-file") if create_like => {
                s.create.pid_file = Some(PathBuf::from(takes(next)?));
                i += 1;
            }
            (_, "--console-socket") if create_like => {
                s.create.console_socket = Some(PathBuf::from(takes(next)?));
                i += 1;
            }
            (_, "--preserve-fds") if create_like => {
                s.create.preserve_fds = takes(next)?.parse().ok()?;
                i += 1;
            }
            (_, "--no-pivot") if create_like => s.create.no_pivot = true,
            (_, "--no-new-keyring") if create_like => s.create.no_new_keyring = true,
            ("run", "-d" | "--detach") => s.detach = true,
            ("run", "--keep") => s.keep = true,
            ("run", "--no-subreaper") => s.no_subreaper = true,
            ("delete", "-f" | "--force") => s.force = true,
            ("kill", "-a" | "--all") => s.all = true,
            ("list", "-q" | "--quiet") => s.quiet = true,
            ("list", "-f" | "--format") => {
                let f = takes(next)?;
                if !matches!(f.as_str(), "table" | "json") {
                    return None;
                }
                s.format = Some(f);
                i += 1;
            }
            _ => return None,
        }
        i += 1;
    }
    let one_id = |pos: &[String]| -> Option<String> {
        match pos {
            [id] => Some(id.clone()),
            _ => None,
        }
    };
    cli.cmd = Some(match name {
        "create" => Cmd::Create {
            id: one_id(&s.pos)?,
            c: s.create,
        },
        "run" => Cmd::Run {
            id: one_id(&s.pos)?,
            c: s.create,
            detach: s.detach,
            keep: s.keep,
            no_subreaper: s.no_subreaper,
        },
        "start" => Cmd::Start {
            id: one_id(&s.pos)?,
        },
        "state" => Cmd::State {
            id: one_id(&s.pos)?,
        },
        "delete" => Cmd::Delete {
            id: one_id(&s.pos)?,
            force: s.force,
        },
        "kill" => match s.pos.as_slice() {
            [id] => Cmd::Kill {
                all: s.all,
                id: id.clone(),
                signal: "SIGTERM".to_string(),
            },
            [id, sig] => Cmd::Kill {
                all: s.all,
                id: id.clone(),
                signal: sig.clone(),
            },
            _ => return None,
        },
        "list" if s.pos.is_empty() => Cmd::List {
            quiet: s.quiet,
            format: s.format.unwrap_or_else(|| "table".to_string()),
        },
        _ => return None,
    });
    Some(cli)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("hako")
            .chain(line.split(' ').filter(|s| !s.is_empty()))
            .map(OsString::from)
            .collect()
    }

    /// Every line the fast path accepts parses to exactly what clap makes of it.
    #[test]
    fn agrees_with_clap() {
        let accepted = [
            "create id1",
            "create --bundle /b --pid-file /p id1",
            "create -b /b --console-socket /s --preserve-fds 2 --no-pivot --no-new-keyring id1",
            "--root /r --log /l --log-format json create --bundle /b --pid-file /p id1",
            "--root /r create id1 --root /r2",
            "--root=/r --log-format=text --debug state id1",
            "--systemd-cgroup --criu x start id1",
            "run -d --bundle /b id1",
            "run --detach --keep --no-subreaper -b /b id1 --debug",
            "run id1 --pid-file /p --root /r",
            "start id1",
            "state id1",
            "delete id1",
            "delete -f id1",
            "delete --force id1 --root /r",
            "kill id1",
            "kill id1 9",
            "kill -a id1 KILL",
            "kill --all id1 SIGKILL --log /l",
            "list",
            "list -q",
            "list --format json",
            "list -f table --quiet",
            "--root /r list",
            "--log /l --log /m --root /a --root /b list",
            "--debug --debug state x",
            "state -",
        ];
        for line in accepted {
            let fast = parse(argv(line)).unwrap_or_else(|| panic!("fast path refused {line:?}"));
            let slow = Cli::try_parse_from(argv(line))
                .unwrap_or_else(|e| panic!("clap refused {line:?}: {e}"));
            assert_eq!(fast, slow, "{line:?}");
        }
    }

    /// Lines outside the fast path go to clap (which may accept them, or explain the error).
    #[test]
    fn leaves_the_rest_to_clap() {
        let refused = [
            "",
            "--help",
            "-h",
            "--version",
            "-v",
            "help",
            "state",
            "state a b",
            "start --help",
            "create",
            "create -b",
            "create -b=/b id",
            "create --bundle -x id",
            "create --preserve-fds x id",
            "create --bogus id",
            "run -dt id",
            "delete -- id",
            "kill a b c",
            "list x",
            "list --format yaml",
            "--log-format xml list",
            "--debug=true list",
            "--root list",
            "--rootless true list",
            "exec id ls",
            "spec",
            "features",
            "pause id",
            "events --stats id",
            "update --memory 1m id",
            "ps id",
        ];
        for line in refused {
            assert!(parse(argv(line)).is_none(), "fast path took {line:?}");
        }
        assert!(parse(vec![
            OsString::from("hako"),
            OsString::from("state"),
            std::os::unix::ffi::OsStringExt::from_vec(vec![0xff]),
        ])
        .is_none());
    }
}
