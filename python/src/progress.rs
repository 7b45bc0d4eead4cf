//! Progress of long calls, shown only when asked: `progress=True` draws a line on
//! `sys.stderr`; a callable is called as `progress(done, total)`.

use pyo3::prelude::*;

use crate::errors::invalid;
use crate::store::describe;

/// Where progress goes: nowhere (the default), a line on `sys.stderr`, or a Python callable.
pub enum Progress {
    /// Not asked.
    Silent,
    /// `progress=True`: `label done/total` redrawn on `sys.stderr`.
    Line(&'static str),
    /// `progress=callable`.
    Callback(Py<PyAny>),
}

impl Progress {
    /// The `progress` keyword argument: `None`/`False`, `True` or a callable.
    pub fn from_arg(arg: Option<&Bound<'_, PyAny>>, label: &'static str) -> PyResult<Progress> {
        let Some(arg) = arg else {
            return Ok(Progress::Silent);
        };
        if arg.is_none() {
            return Ok(Progress::Silent);
        }
        if let Ok(flag) = arg.extract::<bool>() {
            return Ok(if flag {
                Progress::Line(label)
            } else {
                Progress::Silent
            });
        }
        if arg.is_callable() {
            return Ok(Progress::Callback(arg.clone().unbind()));
        }
        Err(invalid(format!(
            "progress is True, False, None or a callable progress(done, total), not {}",
            describe(arg)
        )))
    }

    /// A reporter to call, with the GIL released, as work advances. The first exception a
    /// callback raises stops further calls and is raised by [`Reporter::finish`].
    pub fn reporter(self) -> Reporter {
        Reporter {
            progress: self,
            failure: None,
        }
    }
}

/// Reports progress from inside a call that released the GIL.
pub struct Reporter {
    progress: Progress,
    failure: Option<PyErr>,
}

impl Reporter {
    /// `done` of `total` steps are finished.
    pub fn update(&mut self, done: usize, total: usize) {
        if self.failure.is_some() {
            return;
        }
        let result = match &self.progress {
            Progress::Silent => return,
            Progress::Line(label) => Python::attach(|py| -> PyResult<()> {
                let stderr = py.import("sys")?.getattr("stderr")?;
                let end = if done >= total { "\n" } else { "" };
                stderr.call_method1("write", (format!("\r{label} {done}/{total}{end}"),))?;
                stderr.call_method0("flush")?;
                Ok(())
            }),
            Progress::Callback(f) => Python::attach(|py| f.call1(py, (done, total)).map(drop)),
        };
        if let Err(e) = result {
            self.failure = Some(e);
        }
    }

    /// The call's result, or the callback's exception if it raised one.
    pub fn finish<T>(self, result: PyResult<T>) -> PyResult<T> {
        match self.failure {
            Some(e) => {
                result?;
                Err(e)
            }
            None => result,
        }
    }
}
