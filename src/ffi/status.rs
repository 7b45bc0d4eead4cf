//! Status codes, the handle that keeps the last error, and the panic boundary every exported
//! function runs its body in.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{DatasetProblem, Error, ErrorFamily};

/// Success.
pub const EKO_OK: i32 = 0;

// 1..99: the caller's arguments.
/// A pointer argument that must not be NULL was NULL (the handle itself, an object, an
/// out-parameter, a path).
pub const EKO_ERROR_NULL_ARGUMENT: i32 = 1;
/// An argument is out of range: an unknown enum value, a negative or zero count, an invalid
/// evolution point, a path that is not UTF-8, a buffer id that does not exist.
pub const EKO_ERROR_INVALID_ARGUMENT: i32 = 2;
/// A length or shape does not match the grid (for example a buffer of the wrong number of
/// elements, or an array of the wrong size).
pub const EKO_ERROR_BAD_SHAPE: i32 = 3;
/// A buffer is not aligned for `double`.
pub const EKO_ERROR_MISALIGNED: i32 = 4;
/// A buffer overlaps memory already registered in the dataset.
pub const EKO_ERROR_OVERLAPPING: i32 = 5;
/// A step needs memory of a buffer that was declared without memory and not bound since.
pub const EKO_ERROR_UNBOUND: i32 = 6;
/// The buffer (or attribute) already has memory, or the dataset is already attached to a store.
pub const EKO_ERROR_ALREADY_BOUND: i32 = 7;
/// The dataset already has a buffer for this point and kind, or this threshold element, or this
/// attribute.
pub const EKO_ERROR_DUPLICATE: i32 = 8;
/// A step needs something that is not there: a dataset without an attached store, a point the
/// store does not have, an error the store or dataset does not hold.
pub const EKO_ERROR_NOT_FOUND: i32 = 9;
/// A step would write into memory libeko must not write: a store file committed or mapped for a
/// producer, read-only to combine.
pub const EKO_ERROR_READ_ONLY: i32 = 10;

// 100..199: the evolution.
/// A point cannot be reached from the origin: its nf needs a matching scale the grid lacks.
pub const EKO_ERROR_NO_PATH: i32 = 100;
/// Combine needs a threshold operator that the dataset or store does not have.
pub const EKO_ERROR_MISSING_THRESHOLD: i32 = 101;
/// A final buffer has an error attribute, but the error cannot be computed (the partial or a
/// threshold operator has no error).
pub const EKO_ERROR_MISSING_ERROR: i32 = 102;
/// Partials still need `thresholds.npz`: clean refuses unless forced.
pub const EKO_ERROR_PARTIALS_REMAIN: i32 = 103;
/// A transform cannot be built or applied: a target x grid outside (0, 1], not increasing or
/// with a duplicate; a polynomial degree the grid cannot carry; a singular rotation; a store whose
/// metadata lacks the interpolation; a side rotated from an unknown basis.
pub const EKO_ERROR_TRANSFORM: i32 = 104;
/// A step needs square operators (combine, a partial) and was given a reshaped store.
pub const EKO_ERROR_RESHAPED: i32 = 105;
/// An FK-table evolution cannot go on: pineappl asked the operator callback for a scale the
/// store does not serve, or with x grids, pids or a shape other than the slices have.
pub const EKO_ERROR_EVOLVE: i32 = 106;

// 200..299: files and stores.
/// An operating-system call failed (open, write, rename, fsync, map, ...).
pub const EKO_ERROR_IO: i32 = 200;
/// A file is not a valid `.npy`/`.npz` of the expected kind (bad magic, header, dtype, shape,
/// truncated, damaged archive).
pub const EKO_ERROR_MALFORMED_FILE: i32 = 201;
/// A directory is not a store (no `metadata.json`).
pub const EKO_ERROR_NOT_A_STORE: i32 = 202;
/// Metadata disagree: a store's grid differs from the dataset's or another store's.
pub const EKO_ERROR_INCOMPATIBLE: i32 = 203;
/// Two stores hold different data for one point (merge without a conflict rule).
pub const EKO_ERROR_CONFLICT: i32 = 204;
/// A destination directory exists and is not empty.
pub const EKO_ERROR_NOT_EMPTY: i32 = 205;
/// A store directory holds a file that is not a store file, or its metadata is invalid.
pub const EKO_ERROR_INVALID_STORE: i32 = 206;
/// Another process holds the store's lock and the call was asked not to wait.
pub const EKO_ERROR_BUSY: i32 = 207;
/// A move cannot remove files from a source store (read-only, not ours); nothing was changed.
pub const EKO_ERROR_PERMISSION: i32 = 208;

// 900..999: libeko itself.
/// libeko panicked: a bug. The message holds the panic's text; the objects passed to the call
/// are left as they were as far as libeko can tell, but should be destroyed.
pub const EKO_ERROR_PANIC: i32 = 900;

/// The name of a status code (`"EKO_ERROR_BAD_SHAPE"`), or `"EKO_ERROR_UNKNOWN"` for a number
/// that is not a status code. Static memory: never NULL, never to be freed. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn EKO_status_name(status: i32) -> *const c_char {
    // Cannot panic: a match over constants.
    let name: &'static str = match status {
        EKO_OK => "EKO_OK\0",
        EKO_ERROR_NULL_ARGUMENT => "EKO_ERROR_NULL_ARGUMENT\0",
        EKO_ERROR_INVALID_ARGUMENT => "EKO_ERROR_INVALID_ARGUMENT\0",
        EKO_ERROR_BAD_SHAPE => "EKO_ERROR_BAD_SHAPE\0",
        EKO_ERROR_MISALIGNED => "EKO_ERROR_MISALIGNED\0",
        EKO_ERROR_OVERLAPPING => "EKO_ERROR_OVERLAPPING\0",
        EKO_ERROR_UNBOUND => "EKO_ERROR_UNBOUND\0",
        EKO_ERROR_ALREADY_BOUND => "EKO_ERROR_ALREADY_BOUND\0",
        EKO_ERROR_DUPLICATE => "EKO_ERROR_DUPLICATE\0",
        EKO_ERROR_NOT_FOUND => "EKO_ERROR_NOT_FOUND\0",
        EKO_ERROR_READ_ONLY => "EKO_ERROR_READ_ONLY\0",
        EKO_ERROR_NO_PATH => "EKO_ERROR_NO_PATH\0",
        EKO_ERROR_MISSING_THRESHOLD => "EKO_ERROR_MISSING_THRESHOLD\0",
        EKO_ERROR_MISSING_ERROR => "EKO_ERROR_MISSING_ERROR\0",
        EKO_ERROR_PARTIALS_REMAIN => "EKO_ERROR_PARTIALS_REMAIN\0",
        EKO_ERROR_TRANSFORM => "EKO_ERROR_TRANSFORM\0",
        EKO_ERROR_RESHAPED => "EKO_ERROR_RESHAPED\0",
        EKO_ERROR_EVOLVE => "EKO_ERROR_EVOLVE\0",
        EKO_ERROR_IO => "EKO_ERROR_IO\0",
        EKO_ERROR_MALFORMED_FILE => "EKO_ERROR_MALFORMED_FILE\0",
        EKO_ERROR_NOT_A_STORE => "EKO_ERROR_NOT_A_STORE\0",
        EKO_ERROR_INCOMPATIBLE => "EKO_ERROR_INCOMPATIBLE\0",
        EKO_ERROR_CONFLICT => "EKO_ERROR_CONFLICT\0",
        EKO_ERROR_NOT_EMPTY => "EKO_ERROR_NOT_EMPTY\0",
        EKO_ERROR_INVALID_STORE => "EKO_ERROR_INVALID_STORE\0",
        EKO_ERROR_BUSY => "EKO_ERROR_BUSY\0",
        EKO_ERROR_PERMISSION => "EKO_ERROR_PERMISSION\0",
        EKO_ERROR_PANIC => "EKO_ERROR_PANIC\0",
        _ => "EKO_ERROR_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// A failed call: its status code and message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: i32,
    pub message: String,
}

impl Failure {
    pub fn new(status: i32, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn null(argument: &str) -> Self {
        Failure::new(
            EKO_ERROR_NULL_ARGUMENT,
            format!("{argument} is NULL and must not be"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(EKO_ERROR_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        // The variants with a code of their own; every other one gets its family's code
        // (`Error::family` is exhaustive, so a new variant is always given one there).
        let status = match &error {
            Error::Io { .. } => EKO_ERROR_IO,
            // A member an archive lacks is a malformed archive to a C host.
            Error::NoSuchMember { .. } => EKO_ERROR_MALFORMED_FILE,
            Error::ShapeMismatch { .. } => EKO_ERROR_BAD_SHAPE,
            Error::Misaligned { .. } => EKO_ERROR_MISALIGNED,
            Error::InvalidPoint { .. } | Error::InvalidArgument { .. } => {
                EKO_ERROR_INVALID_ARGUMENT
            }
            Error::NotAStore { .. } => EKO_ERROR_NOT_A_STORE,
            Error::Metadata { .. } | Error::ForeignFile { .. } => EKO_ERROR_INVALID_STORE,
            Error::NotEmpty { .. } => EKO_ERROR_NOT_EMPTY,
            Error::Busy { .. } => EKO_ERROR_BUSY,
            Error::CannotMove { .. } | Error::ReadOnly { .. } => EKO_ERROR_PERMISSION,
            Error::NotADirectory { .. } => EKO_ERROR_NOT_A_STORE,
            Error::InsideStore { .. } => EKO_ERROR_INVALID_ARGUMENT,
            Error::Incompatible { .. } => EKO_ERROR_INCOMPATIBLE,
            Error::Conflict { .. } => EKO_ERROR_CONFLICT,
            Error::NoPath { .. } => EKO_ERROR_NO_PATH,
            Error::MissingEdge { .. } => EKO_ERROR_MISSING_THRESHOLD,
            Error::PartialsRemain { .. } => EKO_ERROR_PARTIALS_REMAIN,
            Error::Transform { .. } => EKO_ERROR_TRANSFORM,
            Error::Reshaped { .. } => EKO_ERROR_RESHAPED,
            Error::Evolve { .. } => EKO_ERROR_EVOLVE,
            Error::NoSuchPoint { .. } => EKO_ERROR_NOT_FOUND,
            // Producers are Rust closures; the C ABI has none. Should one appear, it failed in
            // the host's code, which is an argument of the call.
            Error::Producer { .. } => EKO_ERROR_INVALID_ARGUMENT,
            Error::Dataset { problem, .. } => match problem {
                DatasetProblem::InvalidArgument | DatasetProblem::Layout => {
                    EKO_ERROR_INVALID_ARGUMENT
                }
                DatasetProblem::BadShape => EKO_ERROR_BAD_SHAPE,
                DatasetProblem::Overlapping => EKO_ERROR_OVERLAPPING,
                DatasetProblem::Duplicate => EKO_ERROR_DUPLICATE,
                DatasetProblem::NoErrorAttribute | DatasetProblem::NoStore => EKO_ERROR_NOT_FOUND,
                DatasetProblem::AlreadyBound => EKO_ERROR_ALREADY_BOUND,
                DatasetProblem::Unbound => EKO_ERROR_UNBOUND,
                DatasetProblem::ReadOnly => EKO_ERROR_READ_ONLY,
                DatasetProblem::MissingThreshold => EKO_ERROR_MISSING_THRESHOLD,
                DatasetProblem::MissingError => EKO_ERROR_MISSING_ERROR,
            },
            _ => match error.family() {
                ErrorFamily::MalformedFile => EKO_ERROR_MALFORMED_FILE,
                ErrorFamily::NotFound => EKO_ERROR_NOT_FOUND,
                ErrorFamily::Incompatible => EKO_ERROR_INCOMPATIBLE,
                ErrorFamily::Io => EKO_ERROR_IO,
                ErrorFamily::InvalidArgument | ErrorFamily::Producer => EKO_ERROR_INVALID_ARGUMENT,
            },
        };
        Failure::new(status, format!("{error}{}", c_remedy(&error)))
    }
}

/// The C functions that fix a dataset's problem, added to the message of the core
/// ([`crate::dataset`]), which names none: it is shared with the Rust and Python faces.
fn c_remedy(error: &Error) -> &'static str {
    match error {
        Error::Dataset { problem, .. } => match problem {
            DatasetProblem::Unbound => " (EKO_dataset_bind, or EKO_dataset_map with a store)",
            DatasetProblem::NoErrorAttribute => " (EKO_dataset_add_attribute_buffer)",
            DatasetProblem::NoStore => " (EKO_dataset_attach_store)",
            _ => "",
        },
        _ => "",
    }
}

/// What a call returns inside the boundary.
pub(crate) type Outcome<T = ()> = std::result::Result<T, Failure>;

/// Where a host's calls keep their last status and message. Made by `EKO_handle_create`,
/// freed by `EKO_handle_destroy`; use one handle per thread.
pub struct EKO_Handle {
    status: i32,
    message: CString,
}

impl EKO_Handle {
    fn clear(&mut self) {
        self.status = EKO_OK;
        self.message = CString::default();
    }

    fn set(&mut self, failure: Failure) -> i32 {
        self.status = failure.status;
        // A message with an interior NUL (from a path) is cut there rather than lost.
        let bytes: Vec<u8> = failure.message.into_bytes();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        self.message = CString::new(&bytes[..end]).unwrap_or_default();
        failure.status
    }
}

/// Creates a handle, with status `EKO_OK` and an empty message. Free it with
/// `EKO_handle_destroy`. Never returns NULL (libeko aborts if memory runs out). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn EKO_handle_create() -> *mut EKO_Handle {
    // Cannot panic: allocation failure aborts.
    Box::into_raw(Box::new(EKO_Handle {
        status: EKO_OK,
        message: CString::default(),
    }))
}

/// Frees a handle made by `EKO_handle_create`; NULL is accepted and does nothing. Messages
/// obtained from the handle become invalid.
///
/// # Safety
/// `handle` is NULL or a pointer returned by `EKO_handle_create` and not yet destroyed, used by
/// no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_handle_destroy(handle: *mut EKO_Handle) {
    // SAFETY: the caller passes a pointer from EKO_handle_create (a Box) not yet destroyed.
    unsafe { free_boxed(handle) }
}

/// The status of the last call made with `handle`: `EKO_OK` after a success,
/// `EKO_ERROR_NULL_ARGUMENT` when `handle` is NULL.
///
/// # Safety
/// `handle` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_handle_status(handle: *const EKO_Handle) -> i32 {
    // SAFETY: the caller passes NULL or a live handle.
    match unsafe { handle.as_ref() } {
        Some(h) => h.status,
        None => EKO_ERROR_NULL_ARGUMENT,
    }
}

/// The message of the last call made with `handle`: empty after a success; a static message
/// when `handle` is NULL. Never NULL. The pointer stays valid until the next call that takes
/// this handle (every such call clears it on entry) or its destruction: copy it to keep it.
///
/// # Safety
/// `handle` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_handle_message(handle: *const EKO_Handle) -> *const c_char {
    // SAFETY: the caller passes NULL or a live handle.
    match unsafe { handle.as_ref() } {
        Some(h) => h.message.as_ptr(),
        None => c"the handle is NULL".as_ptr(),
    }
}

/// Runs `body` for a call made with `handle`: clears the handle, catches any panic, and records
/// a failure in the handle. Returns the status.
///
/// The body reaches every other pointer argument through [`arg`], [`arg_mut`], [`text`] and
/// writes out-parameters only after it has succeeded.
pub(crate) fn call(handle: *mut EKO_Handle, body: impl FnOnce() -> Outcome) -> i32 {
    // SAFETY: every exported function documents that `handle` is NULL or a live handle used by
    // this thread only.
    let Some(handle) = (unsafe { handle.as_mut() }) else {
        return EKO_ERROR_NULL_ARGUMENT;
    };
    handle.clear();
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(Failure::new(
            EKO_ERROR_PANIC,
            format!("libeko panicked (a bug, please report it): {text}"),
        ))
    });
    match outcome {
        Ok(()) => EKO_OK,
        Err(failure) => handle.set(failure),
    }
}

/// The object behind a pointer argument, or a NULL-argument failure naming `name`.
///
/// The caller guarantees (documented on every exported function) that a non-NULL pointer is
/// live and not used by another thread for the duration of the call.
pub(crate) fn arg<'a, T>(ptr: *const T, name: &str) -> Outcome<&'a T> {
    // SAFETY: see above: NULL or a live object.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// [`arg`], mutable.
pub(crate) fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Outcome<&'a mut T> {
    // SAFETY: NULL or a live object not used elsewhere during the call (documented contract).
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Checks an out-parameter is not NULL (it is written only on success, with [`put`]).
pub(crate) fn out<T>(ptr: *mut T, name: &str) -> Outcome<*mut T> {
    if ptr.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(ptr)
    }
}

/// Frees an object a `*_create` function gave C (a `Box`); NULL does nothing. The body of every
/// `*_destroy` function.
///
/// # Safety
/// `ptr` is NULL or a pointer from `Box::into_raw` of a `T`, not yet freed, used by no other
/// thread during the call.
pub(crate) unsafe fn free_boxed<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller's contract above: a live Box's pointer, freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Writes an out-parameter checked by [`out`].
pub(crate) fn put<T>(ptr: *mut T, value: T) {
    // SAFETY: `ptr` passed `out` (not NULL) and the caller guarantees it points to writable
    // memory for a `T` (documented on every exported function).
    unsafe { ptr.write(value) }
}

/// A NUL-terminated UTF-8 string argument.
pub(crate) fn text<'a>(ptr: *const c_char, name: &str) -> Outcome<&'a str> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string live for the call.
    let c = unsafe { std::ffi::CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| Failure::invalid(format!("{name} is not valid UTF-8")))
}

/// A count argument: non-negative, and positive unless `zero_ok`.
pub(crate) fn count(value: i64, name: &str, zero_ok: bool) -> Outcome<usize> {
    if value < 0 || (value == 0 && !zero_ok) {
        return Err(Failure::invalid(format!(
            "{name} is {value}, it must be {}",
            if zero_ok { "0 or more" } else { "positive" }
        )));
    }
    usize::try_from(value).map_err(|_| Failure::invalid(format!("{name} is too large")))
}

/// The `n` elements behind a pointer argument; NULL is a failure unless `n` is 0.
pub(crate) fn slice<'a, T>(ptr: *const T, n: usize, name: &str) -> Outcome<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(Failure::new(
            EKO_ERROR_MISALIGNED,
            format!("{name} is not aligned for its element type"),
        ));
    }
    // SAFETY: not NULL, aligned, and the caller guarantees `n` readable elements live for the
    // call (documented on every exported function taking an array).
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let h = EKO_handle_create();
        let status = call(h, || panic!("boom"));
        assert_eq!(status, EKO_ERROR_PANIC);
        // SAFETY: h is live.
        unsafe {
            assert_eq!(EKO_handle_status(h), EKO_ERROR_PANIC);
            let m = std::ffi::CStr::from_ptr(EKO_handle_message(h));
            assert!(m.to_str().unwrap().contains("boom"), "{m:?}");
        }
        // The next call clears it.
        assert_eq!(call(h, || Ok(())), EKO_OK);
        // SAFETY: h is live, then destroyed once.
        unsafe {
            assert_eq!(EKO_handle_status(h), EKO_OK);
            assert_eq!(*EKO_handle_message(h), 0);
            EKO_handle_destroy(h);
        }
    }

    #[test]
    fn every_code_has_a_name() {
        for code in [
            EKO_OK,
            EKO_ERROR_NULL_ARGUMENT,
            EKO_ERROR_INVALID_ARGUMENT,
            EKO_ERROR_BAD_SHAPE,
            EKO_ERROR_MISALIGNED,
            EKO_ERROR_OVERLAPPING,
            EKO_ERROR_UNBOUND,
            EKO_ERROR_ALREADY_BOUND,
            EKO_ERROR_DUPLICATE,
            EKO_ERROR_NOT_FOUND,
            EKO_ERROR_READ_ONLY,
            EKO_ERROR_NO_PATH,
            EKO_ERROR_MISSING_THRESHOLD,
            EKO_ERROR_MISSING_ERROR,
            EKO_ERROR_PARTIALS_REMAIN,
            EKO_ERROR_TRANSFORM,
            EKO_ERROR_EVOLVE,
            EKO_ERROR_RESHAPED,
            EKO_ERROR_IO,
            EKO_ERROR_MALFORMED_FILE,
            EKO_ERROR_NOT_A_STORE,
            EKO_ERROR_INCOMPATIBLE,
            EKO_ERROR_CONFLICT,
            EKO_ERROR_NOT_EMPTY,
            EKO_ERROR_INVALID_STORE,
            EKO_ERROR_BUSY,
            EKO_ERROR_PERMISSION,
            EKO_ERROR_PANIC,
        ] {
            // SAFETY: static NUL-terminated strings.
            let name = unsafe { std::ffi::CStr::from_ptr(EKO_status_name(code)) };
            assert_ne!(name.to_str().unwrap(), "EKO_ERROR_UNKNOWN", "{code}");
        }
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(EKO_status_name(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "EKO_ERROR_UNKNOWN");
    }
}
