//! The router's own errors: bad URLs, bad tokens, bad settings.

use covet_core::Error;

/// Why a router could not be configured, or a token not read.
///
/// Messages are fixed text plus what the caller may safely see (a position
/// in the host list, a parameter name): a URL's user, password or host is
/// never repeated, since these errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The URL is not `scheme://[user[:password]@]host[:port][,host[:port]...][/db][?...]`.
    #[error("invalid router URL: {0}")]
    Url(&'static str),
    /// One host of the list was refused by the URL parser.
    #[error("invalid router URL: host #{index} of the list: {reason}")]
    Host {
        /// Position in the list, from 1.
        index: usize,
        /// covet-core's reason (which never echoes the URL).
        reason: String,
    },
    /// SQLite has no replicas.
    #[error("invalid router URL: only postgres:// and mysql:// (mariadb://) URLs name replicas")]
    Engine,
    /// A router parameter in the URL has a value it cannot take.
    #[error("invalid router URL: parameter `{name}` {reason}")]
    Param {
        /// The parameter's name.
        name: &'static str,
        /// What was wrong, without the value.
        reason: &'static str,
    },
    /// A builder setting is out of range.
    #[error("invalid router setting: {0}")]
    Setting(&'static str),
    /// A consistency token string could not be read.
    #[error("invalid consistency token: {0}")]
    Token(&'static str),
    /// A token was taken on one engine and used on another.
    #[error("consistency token is for another engine than this router's")]
    TokenEngine,
}

impl From<RouterError> for Error {
    fn from(e: RouterError) -> Self {
        Error::config(e.to_string())
    }
}
