//! Why a config could not be used, naming the file, the place in it and the reason.

use std::fmt;

/// A config file that cannot be read, parsed or accepted.
///
/// Displays as `<file>: <where>: <why>`, one line, ready to be prefixed with the program name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The path as given.
        file: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, a value of the wrong type, a missing or an unknown key.
    #[error("{file}: {}: {message}", syntax_place(.position, .key))]
    Syntax {
        /// The file (or other origin) the text came from.
        file: String,
        /// 1-based line and column (in characters) where TOML located the error.
        position: Option<(usize, usize)>,
        /// The key path, as in `guest 1 device 2 backend`, when known.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Well-formed TOML that breaks a rule of the schema.
    #[error("{file}: {place}: {reason}")]
    Invalid {
        /// The file (or other origin) the text came from.
        file: String,
        /// Where in the config, as in `guest "ivi" device 2`.
        place: String,
        /// What is wrong and what was expected.
        reason: String,
    },
}

impl ConfigError {
    /// The file (or other origin) the error is about.
    pub fn file(&self) -> &str {
        match self {
            Self::Read { file, .. } | Self::Syntax { file, .. } | Self::Invalid { file, .. } => {
                file
            }
        }
    }
}

/// The `<where>` of a syntax error: `line 3, column 7, at guest 1 name`.
fn syntax_place<'a>(
    position: &'a Option<(usize, usize)>,
    key: &'a Option<String>,
) -> SyntaxPlace<'a> {
    SyntaxPlace { position, key }
}

/// Displays the `<where>` of a syntax error.
struct SyntaxPlace<'a> {
    position: &'a Option<(usize, usize)>,
    key: &'a Option<String>,
}

impl fmt::Display for SyntaxPlace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.position, self.key) {
            (Some((line, column)), Some(key)) => {
                write!(f, "line {line}, column {column}, at {key}")
            }
            (Some((line, column)), None) => write!(f, "line {line}, column {column}"),
            (None, Some(key)) => write!(f, "at {key}"),
            (None, None) => f.write_str("top level"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_where_why() {
        let e = ConfigError::Invalid {
            file: "etc/x.toml".into(),
            place: "guest \"ivi\" device 2".into(),
            reason: "unknown backend \"alsaa\" (expected one of: sim, alsa)".into(),
        };
        assert_eq!(
            e.to_string(),
            "etc/x.toml: guest \"ivi\" device 2: unknown backend \"alsaa\" (expected one of: sim, alsa)"
        );
        let e = ConfigError::Syntax {
            file: "a.toml".into(),
            position: Some((3, 7)),
            key: Some("guest 1 name".into()),
            message: "invalid type".into(),
        };
        assert_eq!(
            e.to_string(),
            "a.toml: line 3, column 7, at guest 1 name: invalid type"
        );
        let e = ConfigError::Syntax {
            file: "a.toml".into(),
            position: None,
            key: None,
            message: "m".into(),
        };
        assert_eq!(e.to_string(), "a.toml: top level: m");
    }
}
