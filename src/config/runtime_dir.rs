//! Where the service keeps its sockets and state.

use std::path::{Path, PathBuf};

use super::schema::Config;

/// The runtime dir, first found of: `--runtime-dir`, `service.runtime_dir`,
/// `$XDG_RUNTIME_DIR/drivervm`, `/run/drivervm` for root, `./run`.
///
/// Pure: the caller passes the environment lookup and the effective uid. An empty or
/// relative `XDG_RUNTIME_DIR` is ignored, as the XDG base directory spec requires.
pub fn resolve_runtime_dir(
    cli: Option<&Path>,
    cfg: &Config,
    env: impl Fn(&str) -> Option<String>,
    euid: u32,
) -> PathBuf {
    if let Some(dir) = cli {
        return dir.to_path_buf();
    }
    if let Some(dir) = &cfg.service.runtime_dir {
        return dir.clone();
    }
    if let Some(xdg) = env("XDG_RUNTIME_DIR") {
        let xdg = PathBuf::from(xdg);
        if xdg.is_absolute() {
            return xdg.join("drivervm");
        }
    }
    if euid == 0 {
        PathBuf::from("/run/drivervm")
    } else {
        PathBuf::from("./run")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::embedded_default;

    fn cfg(runtime_dir: Option<&str>) -> Config {
        let mut c = embedded_default().expect("embedded default parses");
        c.service.runtime_dir = runtime_dir.map(PathBuf::from);
        c
    }

    fn xdg(v: &'static str) -> impl Fn(&str) -> Option<String> {
        move |k| (k == "XDG_RUNTIME_DIR").then(|| v.to_owned())
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn cli_wins_over_everything() {
        let got = resolve_runtime_dir(Some(Path::new("/cli")), &cfg(Some("/file")), xdg("/xdg"), 0);
        assert_eq!(got, PathBuf::from("/cli"));
    }

    #[test]
    fn file_wins_over_environment() {
        let got = resolve_runtime_dir(None, &cfg(Some("/file")), xdg("/xdg"), 0);
        assert_eq!(got, PathBuf::from("/file"));
    }

    #[test]
    fn xdg_runtime_dir_wins_over_root_default() {
        let got = resolve_runtime_dir(None, &cfg(None), xdg("/run/user/1000"), 0);
        assert_eq!(got, PathBuf::from("/run/user/1000/drivervm"));
    }

    #[test]
    fn empty_or_relative_xdg_is_ignored() {
        assert_eq!(
            resolve_runtime_dir(None, &cfg(None), xdg(""), 1000),
            PathBuf::from("./run")
        );
        assert_eq!(
            resolve_runtime_dir(None, &cfg(None), xdg("rel"), 0),
            PathBuf::from("/run/drivervm")
        );
    }

    #[test]
    fn root_then_cwd() {
        assert_eq!(
            resolve_runtime_dir(None, &cfg(None), no_env, 0),
            PathBuf::from("/run/drivervm")
        );
        assert_eq!(
            resolve_runtime_dir(None, &cfg(None), no_env, 1000),
            PathBuf::from("./run")
        );
    }
}
