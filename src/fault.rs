//! Fault injection for the crash tests (compiled in only with the `fault-injection` feature).
//!
//! Every step of a write path that changes the filesystem is preceded by a named fault point,
//! `fault_point!("name")`. Without the feature the macro expands to nothing. With it, two
//! environment variables steer a process:
//!
//! - `EKO_FAULT_TRACE=FILE`: every point reached appends its name, one line each, to `FILE` (the
//!   crash tests list an operation's points this way).
//! - `EKO_FAULT=kill@N` or `EKO_FAULT=fail@N`: at the `N`th point reached (1-based, counting every
//!   point of the process), `kill` sends the process `SIGKILL` (a crash at that instant: no
//!   destructor, no buffered write, no cleanup runs) and `fail` makes the step fail with an I/O
//!   error naming the point (the error paths' cleanup runs).

#[cfg(feature = "fault-injection")]
pub(crate) use imp::hit;

#[cfg(feature = "fault-injection")]
mod imp {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::error::{Error, Location, Result};

    /// What to do at the chosen point.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Action {
        Kill,
        Fail,
    }

    struct Plan {
        at: Option<(Action, u64)>,
        trace: Option<std::path::PathBuf>,
    }

    static PLAN: OnceLock<Plan> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);

    fn plan() -> &'static Plan {
        PLAN.get_or_init(|| {
            let at = std::env::var("EKO_FAULT").ok().and_then(|spec| {
                let (action, n) = spec.split_once('@')?;
                let action = match action {
                    "kill" => Action::Kill,
                    "fail" => Action::Fail,
                    _ => return None,
                };
                Some((action, n.parse().ok()?))
            });
            Plan {
                at,
                trace: std::env::var_os("EKO_FAULT_TRACE").map(Into::into),
            }
        })
    }

    /// Reached a fault point: records it, and kills the process or fails as `EKO_FAULT` says.
    pub(crate) fn hit(name: &'static str) -> Result<()> {
        let plan = plan();
        let n = HITS.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(path) = &plan.trace
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            let _ = writeln!(file, "{name}");
        }
        match plan.at {
            Some((Action::Kill, at)) if at == n => {
                // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                // SIGKILL cannot be caught; the process ends before this line.
                std::process::abort();
            }
            Some((Action::Fail, at)) if at == n => Err(Error::Io {
                file: Location::file(format!("fault point {name}")),
                operation: "injected fault",
                source: std::io::Error::other(format!("injected failure at fault point {name}")),
            }),
            _ => Ok(()),
        }
    }
}

/// A fault point: with the `fault-injection` feature, `?`s the result of [`hit`]; without, does
/// nothing.
macro_rules! fault_point {
    ($name:literal) => {{
        #[cfg(feature = "fault-injection")]
        $crate::fault::hit($name)?;
    }};
}
pub(crate) use fault_point;
