//! TEMPORARY: moves to eko::error once the dataset work on src/error.rs lands.
use eko::Error;

#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    NotFound,
    Incompatible,
    MalformedFile,
    Io,
    InvalidArgument,
    Other,
}

#[allow(missing_docs)]
pub fn family(e: &Error) -> ErrorFamily {
    use ErrorFamily::*;
    match e {
        Error::Io { .. }
        | Error::Busy { .. }
        | Error::ReadOnly { .. }
        | Error::CannotMove { .. } => Io,
        Error::NoSuchPoint { .. }
        | Error::NotAStore { .. }
        | Error::MissingEdge { .. }
        | Error::NoPath { .. } => NotFound,
        Error::Incompatible { .. }
        | Error::Conflict { .. }
        | Error::ShapeMismatch { .. }
        | Error::Reshaped { .. }
        | Error::PartialsRemain { .. } => Incompatible,
        Error::InvalidPoint { .. }
        | Error::InvalidArgument { .. }
        | Error::InsideStore { .. }
        | Error::NotEmpty { .. }
        | Error::NotADirectory { .. }
        | Error::Transform { .. }
        | Error::Evolve { .. } => InvalidArgument,
        Error::Producer { .. } => Other,
        _ => MalformedFile,
    }
}
