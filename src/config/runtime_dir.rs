//! Where the service keeps its sockets and state.

use std::path::{Path, PathBuf};

use super::schema::Config;

/// Where one kind of directory is looked for, after the command line and the config.
struct Fallbacks {
    /// XDG base-directory variable whose value gets a `drivervm` subdirectory.
    xdg_var: &'static str,
    /// Used when running as root.
    root: &'static str,
    /// Used otherwise, relative to the working directory.
    user: &'static str,
}

/// First found of `cli`, `configured`, `$XDG_…/drivervm`, the root default, the user default.
///
/// An empty or relative XDG value is ignored, as the XDG base directory spec requires.
fn resolve(
    cli: Option<&Path>,
    configured: Option<&PathBuf>,
    env: impl Fn(&str) -> Option<String>,
    euid: u32,
    f: Fallbacks,
) -> PathBuf {
    if let Some(dir) = cli.map(Path::to_path_buf).or_else(|| configured.cloned()) {
        return dir;
    }
    if let Some(xdg) = env(f.xdg_var).map(PathBuf::from) {
        if xdg.is_absolute() {
            return xdg.join("drivervm");
        }
    }
    PathBuf::from(if euid == 0 { f.root } else { f.user })
}

/// The runtime dir, first found of: `--runtime-dir`, `service.runtime_dir`,
/// `$XDG_RUNTIME_DIR/drivervm`, `/run/drivervm` for root, `./run`.
///
/// Pure: the caller passes the environment lookup and the effective uid.
pub fn resolve_runtime_dir(
    cli: Option<&Path>,
    cfg: &Config,
    env: impl Fn(&str) -> Option<String>,
    euid: u32,
) -> PathBuf {
    let f = Fallbacks {
        xdg_var: "XDG_RUNTIME_DIR",
        root: "/run/drivervm",
        user: "./run",
    };
    resolve(cli, cfg.service.runtime_dir.as_ref(), env, euid, f)
}

/// The state dir (persistent: RPMB images and keys), first found of: `--state-dir`,
/// `service.state_dir`, `$XDG_STATE_HOME/drivervm`, `/var/lib/drivervm` for root, `./state`.
///
/// Not the runtime dir: that is usually a tmpfs, and an RPMB that forgets its counter at
/// reboot protects against no replay. Pure, like [`resolve_runtime_dir`].
pub fn resolve_state_dir(
    cli: Option<&Path>,
    cfg: &Config,
    env: impl Fn(&str) -> Option<String>,
    euid: u32,
) -> PathBuf {
    let f = Fallbacks {
        xdg_var: "XDG_STATE_HOME",
        root: "/var/lib/drivervm",
        user: "./state",
    };
    resolve(cli, cfg.service.state_dir.as_ref(), env, euid, f)
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
    fn state_dir_order() {
        let mut c = cfg(None);
        let state = |k: &str| (k == "XDG_STATE_HOME").then(|| "/home/u/.local/state".to_owned());
        assert_eq!(
            resolve_state_dir(Some(Path::new("/cli")), &c, state, 0),
            PathBuf::from("/cli")
        );
        assert_eq!(
            resolve_state_dir(None, &c, state, 0),
            PathBuf::from("/home/u/.local/state/drivervm")
        );
        assert_eq!(
            resolve_state_dir(None, &c, no_env, 0),
            PathBuf::from("/var/lib/drivervm")
        );
        assert_eq!(
            resolve_state_dir(None, &c, no_env, 1000),
            PathBuf::from("./state")
        );
        c.service.state_dir = Some("/file".into());
        assert_eq!(
            resolve_state_dir(None, &c, state, 0),
            PathBuf::from("/file")
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
