//! The error type at the library's boundary. Inside, functions add context with `anyhow`; what
//! reaches a caller is one of these kinds, with the whole chain of causes in its message.

use crate::data::DataError;

/// Why a bilens call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting outside its allowed range, a recipe that cannot run, inputs that do not fit
    /// together (a model and data of different sizes, an empty set, …): nothing was computed.
    #[error("{0}")]
    Invalid(String),
    /// A data folder or file that cannot be read as IDX data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A fit or a training run whose loss stopped being a finite number.
    #[error("{0}")]
    Diverged(String),
    /// Work stopped on request ([`crate::interrupt`]): what it had not finished was not written.
    #[error("interrupted")]
    Interrupted,
    /// Anything else (file I/O, a damaged model or factors file, …), with its causes.
    #[error("{0:#}")]
    Other(anyhow::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<anyhow::Error> for Error {
    /// Recovers the kind of an error that travelled through `anyhow`, keeping its context.
    fn from(e: anyhow::Error) -> Self {
        let kind = if e.downcast_ref::<DataError>().is_some() {
            "data"
        } else {
            match e.downcast_ref::<Error>() {
                Some(Error::Invalid(_)) => "invalid",
                Some(Error::Diverged(_)) => "diverged",
                Some(Error::Interrupted) => "interrupted",
                _ => "other",
            }
        };
        let message = format!("{e:#}");
        match kind {
            "invalid" => Error::Invalid(message),
            "diverged" => Error::Diverged(message),
            "interrupted" => Error::Interrupted,
            "data" if e.chain().count() == 1 => Error::Data(e.downcast::<DataError>().expect("checked above")),
            _ => Error::Other(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn kinds_survive_anyhow_context() {
        let inner: anyhow::Result<()> = Err(Error::Invalid("rank = 0 is out of range".into()).into());
        let e: Error = inner.context("fitting preset x").unwrap_err().into();
        assert!(matches!(&e, Error::Invalid(m) if m.contains("fitting preset x") && m.contains("rank = 0")), "{e}");
        let e: Error = anyhow::anyhow!("disk full").into();
        assert!(matches!(e, Error::Other(_)));
    }
}
