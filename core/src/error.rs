//! One error type for every rule the SQL API enforces. Each variant knows its
//! SQLSTATE; the extension turns it into a PostgreSQL error at the boundary.
//! No message ever carries a token's plaintext: no variant holds one.

use thiserror::Error;

/// The SQLSTATE classes the API raises (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 22023 invalid_parameter_value
    InvalidParameterValue,
    /// 42501 insufficient_privilege
    InsufficientPrivilege,
    /// P0002 no_data_found
    NoDataFound,
    /// 23505 unique_violation (an import of a hash already stored)
    UniqueViolation,
    /// 58000 system_error (the OS random source failed)
    SystemError,
    /// XX000 internal_error (a bug of ours: the catalog is not what we built)
    InternalError,
}

impl SqlState {
    pub fn code(self) -> &'static str {
        match self {
            SqlState::InvalidParameterValue => "22023",
            SqlState::InsufficientPrivilege => "42501",
            SqlState::NoDataFound => "P0002",
            SqlState::UniqueViolation => "23505",
            SqlState::SystemError => "58000",
            SqlState::InternalError => "XX000",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    /// An argument broke a rule: which one (its SQL parameter name, which
    /// the extension reports in the error's DETAIL as `argument: <name>`),
    /// and a message saying what is allowed.
    #[error("{message}")]
    InvalidArgument {
        argument: &'static str,
        message: String,
    },
    /// The calling role may not do this.
    #[error("{0}")]
    NotAllowed(String),
    /// No token has this id.
    #[error("no token has id {0}")]
    UnknownToken(String),
    /// What the call would store exists already.
    #[error("{0}")]
    Duplicate(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("pg_tokens internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(argument: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument,
            message: message.into(),
        }
    }

    /// The SQL parameter an InvalidArgument is about.
    pub fn argument(&self) -> Option<&'static str> {
        match self {
            Error::InvalidArgument { argument, .. } => Some(argument),
            _ => None,
        }
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Error::NotAllowed(message.into())
    }

    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::InvalidArgument { .. } => SqlState::InvalidParameterValue,
            Error::NotAllowed(_) => SqlState::InsufficientPrivilege,
            Error::UnknownToken(_) => SqlState::NoDataFound,
            Error::Duplicate(_) => SqlState::UniqueViolation,
            Error::Random(_) => SqlState::SystemError,
            Error::Internal(_) => SqlState::InternalError,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
