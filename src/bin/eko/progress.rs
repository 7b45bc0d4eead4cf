//! Progress bars on standard error, drawn only when it is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A one-line progress bar: `label [######......] done/total detail (seconds)`.
pub struct Bar {
    label: &'static str,
    started: Instant,
    terminal: bool,
}

impl Bar {
    /// A bar; silent unless standard error is a terminal.
    pub fn new(label: &'static str) -> Self {
        Bar {
            label,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Redraws the bar after `done` of `total` steps; `detail` names the last one.
    pub fn update(&self, done: usize, total: usize, detail: &dyn std::fmt::Display) {
        if !self.terminal {
            return;
        }
        const WIDTH: usize = 24;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{} [{}{}] {done}/{} {detail} ({:.1} s)",
            self.label,
            "#".repeat(filled.min(WIDTH)),
            ".".repeat(WIDTH - filled.min(WIDTH)),
            total,
            self.started.elapsed().as_secs_f64()
        );
        if done >= total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}
