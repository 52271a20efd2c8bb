//! The VMM command lines of README.md, which the real-guest tests run as they are, so that
//! a line users copy cannot stop working unnoticed.
//!
//! A line is the first fenced block after a `<!-- vmm-line: NAME -->` marker: one shell
//! command, possibly continued over lines ending in `\`.

/// README.md of this crate, as built.
pub const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

/// The command marked `name` in `readme`, its continuation lines joined.
pub fn vmm_line(readme: &str, name: &str) -> Result<String, String> {
    let marker = format!("<!-- vmm-line: {name} -->");
    let mut found = readme.match_indices(&marker);
    let Some((at, _)) = found.next() else {
        return Err(format!("README has no {marker}"));
    };
    if found.next().is_some() {
        return Err(format!("README has {marker} twice"));
    }
    let mut lines = readme[at + marker.len()..].lines().skip(1);
    // The block must follow the marker directly (blank lines aside), or the marker would
    // name whatever block comes next.
    let fence = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if !fence.starts_with("```") {
        return Err(format!("{marker} is not followed by a fenced block"));
    }
    let mut body = Vec::new();
    let mut closed = false;
    for l in lines {
        if l.starts_with("```") {
            closed = true;
            break;
        }
        body.push(l);
    }
    if !closed {
        return Err(format!("the block after {marker} is not closed"));
    }
    let mut command = String::new();
    let mut continued = true;
    for l in body {
        if l.trim().is_empty() {
            continue;
        }
        if !continued {
            return Err(format!(
                "the block after {marker} holds more than one command: {l:?}"
            ));
        }
        let (part, more) = match l.trim_end().strip_suffix('\\') {
            Some(p) => (p, true),
            None => (l.trim_end(), false),
        };
        command.push_str(part.trim());
        command.push(' ');
        continued = more;
    }
    if continued {
        return Err(format!("the command after {marker} ends in a continuation"));
    }
    Ok(command.trim_end().to_owned())
}
