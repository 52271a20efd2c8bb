//! Config text to the raw structs; syntax, type and unknown-key errors located by line, column
//! and key path.
//!
//! TOML is the authoring format. The Android build reads JSON instead (AOSP's `libtoml` is
//! host only): the build converts the TOML with `drivervm-config-json`, and the same raw
//! structs, with the same unknown-key and type checks, read either.

use serde_path_to_error::{Path, Segment};

use super::error::ConfigError;
use super::raw::RawConfig;

/// Deserializes TOML `text`; errors name `origin`.
#[cfg(not(soong))]
pub(super) fn deserialize_toml(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let key = key_path(e.path());
        let inner = e.into_inner();
        ConfigError::Syntax {
            file: origin.to_owned(),
            position: inner.span().map(|span| line_column(text, span.start)),
            key,
            message: one_line(inner.message()),
        }
    })
}

/// Deserializes JSON `text` (the form the Android build installs); errors name `origin`.
pub(super) fn deserialize_json(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = serde_path_to_error::deserialize(&mut de).and_then(|raw| {
        // Trailing text after the document is an error too, located like the others.
        de.end().map(|()| raw).map_err(|e| {
            serde_path_to_error::Error::new(serde_path_to_error::Track::new().path(), e)
        })
    });
    raw.map_err(|e| {
        let key = key_path(e.path());
        let inner = e.into_inner();
        let position = (inner.line() > 0).then(|| (inner.line(), inner.column()));
        // serde_json appends " at line L column C" to its message; the position is kept apart.
        let text = inner.to_string();
        let suffix = format!(" at line {} column {}", inner.line(), inner.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        ConfigError::Syntax {
            file: origin.to_owned(),
            position,
            key,
            message: one_line(message),
        }
    })
}

/// Renders a serde path the way validation messages count: `guest 1 device 2 transport`.
///
/// Array elements are numbered from 1 in file order, as in every other message.
fn key_path(path: &Path) -> Option<String> {
    let mut out = String::new();
    let mut after_index = false;
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push_str(&format!(" {}", index.saturating_add(1)));
                after_index = true;
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push(if after_index { ' ' } else { '.' });
                }
                out.push_str(key);
                after_index = false;
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// TOML's parser explains some errors over several lines; a config error is one line.
fn one_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

/// 1-based line and column (in characters) of byte `offset` in `text` (TOML reports bytes).
#[cfg(not(soong))]
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // A span may in principle end inside a multi-byte character; step back to a boundary.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_column(text, 9), (2, 3));
        // Inside 'é': reported at its start.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
    }
}
