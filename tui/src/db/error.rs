use thiserror::Error;

/// A failed call: the server's SQLSTATE and message when it answered, or
/// what went wrong on the way.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DbError {
    #[error("ERROR {sqlstate}: {message}")]
    Server {
        sqlstate: String,
        message: String,
        hint: Option<String>,
        /// The SQL parameter the error is about, as pg_tokens reports it in
        /// the DETAIL (`argument: <name>`): what a form points at.
        argument: Option<String>,
    },
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    #[error("{0}")]
    NotConnected(String),
    #[error("{0}")]
    Client(String),
    /// A check that found a mismatch (`audit verify`): exit 1, as a
    /// server's refusal.
    #[error("{0}")]
    Mismatch(String),
}

/// The argument a pg_tokens error names in its DETAIL (`argument: <name>`).
pub fn argument_of(detail: Option<&str>) -> Option<String> {
    detail
        .and_then(|d| d.strip_prefix("argument: "))
        .map(|name| name.trim().to_owned())
}

impl DbError {
    /// The SQL parameter a refusal is about, if the server named one.
    pub fn argument(&self) -> Option<&str> {
        match self {
            DbError::Server { argument, .. } => argument.as_deref(),
            _ => None,
        }
    }

    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Server { sqlstate, .. } => Some(sqlstate),
            _ => None,
        }
    }

    /// True when the connection is gone and the worker must reconnect.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::ConnectionLost(_) | DbError::NotConnected(_))
    }

    /// Classifies an error of a call made on `client`.
    pub fn from_pg(e: postgres::Error, closed: bool) -> DbError {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            // 57P01 admin shutdown (pg_terminate_backend), 57P02/57P03: crash, cannot connect now
            if closed || matches!(code, "57P01" | "57P02" | "57P03") {
                return DbError::ConnectionLost(format!("{} ({code})", db.message()));
            }
            return DbError::Server {
                sqlstate: code.to_owned(),
                message: db.message().to_owned(),
                hint: db.hint().map(str::to_owned),
                argument: argument_of(db.detail()),
            };
        }
        if closed || e.is_closed() {
            DbError::ConnectionLost(e.to_string())
        } else {
            DbError::Client(e.to_string())
        }
    }
}
