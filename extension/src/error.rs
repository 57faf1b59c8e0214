//! The SQL boundary: every `pg_tokens_core::Error` becomes a PostgreSQL error
//! with its SQLSTATE here, and nowhere else.

use pg_tokens_core::{Error, SqlState};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub type Result<T> = std::result::Result<T, Error>;

fn code(state: SqlState) -> PgSqlErrorCode {
    match state {
        SqlState::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::InsufficientPrivilege => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        SqlState::NoDataFound => PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
        SqlState::UniqueViolation => PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        SqlState::SystemError => PgSqlErrorCode::ERRCODE_SYSTEM_ERROR,
        SqlState::InternalError => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    }
}

/// Raises `error` as a PostgreSQL ERROR; the current transaction (or
/// subtransaction) is aborted, so nothing the call wrote survives.
pub fn raise(error: Error) -> ! {
    let mut report = ErrorReport::new(code(error.sqlstate()), error.to_string(), "pg_tokens");
    if let Some(argument) = error.argument() {
        // For clients that point at the field to fix (the console does)
        // without reading the message's words.
        report = report.set_detail(format!("argument: {argument}"));
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e))
    }
}

/// SPI and datum conversion failures are our bugs, never the caller's input.
pub fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}
