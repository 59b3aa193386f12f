//! `--log FILE --log-format text|json --debug`: runc-compatible log lines.
//!
//! JSON lines are `{"level":"error","msg":"...","time":"RFC3339"}`; containerd and conmon show
//! the `msg` of the last error line to their users. We implement a tiny `tracing` subscriber
//! rather than pulling in tracing-subscriber: it is synchronous (no background thread — the
//! runtime must stay single-threaded until exec) and writes runc's exact field names.
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Sink {
    file: Option<File>,
    format: Format,
    max: Level,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Install the logger. `file` None logs to stderr.
pub fn init(file: Option<File>, format: Format, debug: bool) {
    let max = if debug { Level::DEBUG } else { Level::WARN };
    if let Ok(mut s) = SINK.lock() {
        *s = Some(Sink { file, format, max });
    }
    let _ = tracing::subscriber::set_global_default(Subscriber);
}

/// Whether `--debug` is on (step timings are only measured then).
pub fn debug_enabled() -> bool {
    SINK.lock()
        .ok()
        .and_then(|s| s.as_ref().map(|s| s.max >= Level::DEBUG))
        .unwrap_or(false)
}

/// Write one line at `level` directly (used for the final error of a command).
pub fn log(level: Level, msg: &str) {
    let Ok(mut guard) = SINK.lock() else { return };
    let Some(sink) = guard.as_mut() else { return };
    if level > sink.max {
        return;
    }
    let line = format_line(sink.format, level, msg);
    match sink.file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Whether log lines go to a file (then the CLI also prints errors to stderr itself).
pub fn logs_to_file() -> bool {
    SINK.lock()
        .ok()
        .and_then(|s| s.as_ref().map(|s| s.file.is_some()))
        .unwrap_or(false)
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn format_line(format: Format, level: Level, msg: &str) -> String {
    let time = rfc3339_now();
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level_name(level), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => {
            format!(
                "time=\"{time}\" level={} msg={:?}\n",
                level_name(level),
                msg
            )
        }
    }
}

/// RFC 3339 UTC time with nanoseconds, computed without a time-zone database.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

struct Subscriber;

struct MsgVisitor(String);

impl Visit for MsgVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl tracing::Subscriber for Subscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        SINK.lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| *metadata.level() <= s.max))
            .unwrap_or(false)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut v = MsgVisitor(String::new());
        event.record(&mut v);
        log(*event.metadata().level(), &v.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Measures setup steps when `--debug` is on: `step!("mounts")` logs the time since the last step.
pub struct StepTimer {
    last: Option<std::time::Instant>,
    what: &'static str,
}

impl StepTimer {
    pub fn new(what: &'static str) -> Self {
        StepTimer {
            last: debug_enabled().then(std::time::Instant::now),
            what,
        }
    }
    pub fn step(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            tracing::debug!(
                "{} step {name}: {:.3} ms",
                self.what,
                (now - last).as_secs_f64() * 1e3
            );
            self.last = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951782400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(
            rfc3339(1798502400 + 3661, 0),
            "2026-12-29T01:01:01.000000000Z"
        );
    }
    #[test]
    fn json_line() {
        let l = format_line(Format::Json, Level::ERROR, "container \"x\" does not exist");
        let v: serde_json::Value = serde_json::from_str(l.trim()).expect("json");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
    }
}
