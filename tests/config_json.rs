//! The Android build's config path: TOML converted to JSON at build time
//! (`drivervm-config-json`, run by Android.bp's genrule) and read on the device with
//! serde_json must give exactly the config the TOML gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use drivervm::config::{self, ConfigError};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the converter on `input`; `Err` holds its stderr.
fn convert(input: &Path) -> Result<String, String> {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let output = out_dir.path().join("out.json");
    let run = Command::new(env!("CARGO_BIN_EXE_drivervm-config-json"))
        .arg(input)
        .arg(&output)
        .output()
        .expect("run drivervm-config-json");
    if run.status.success() {
        Ok(std::fs::read_to_string(&output).expect("converter output"))
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

/// The input of Android.bp's genrule `drivervm_config_json`: the TOML the device gets.
fn genrule_input() -> PathBuf {
    let bp = std::fs::read_to_string(repo("Android.bp")).expect("Android.bp");
    let module = bp
        .split("genrule {")
        .skip(1)
        .find(|m| m.contains("name: \"drivervm_config_json\","))
        .expect("Android.bp has genrule drivervm_config_json");
    let src = module
        .lines()
        .find_map(|l| l.trim().strip_prefix("srcs: [\""))
        .and_then(|l| l.strip_suffix("\"],"))
        .expect("the genrule has one src");
    repo(src)
}

/// Same outcome from the TOML and from its JSON form.
fn assert_same_config(toml_path: &Path) {
    let toml_text = std::fs::read_to_string(toml_path).expect("read TOML");
    let json_text = convert(toml_path).unwrap_or_else(|e| panic!("{}: {e}", toml_path.display()));
    let from_toml = config::parse(&toml_text, "config");
    let from_json = config::parse_json(&json_text, "config");
    match (from_toml, from_json) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", toml_path.display()),
        (
            Err(ConfigError::Invalid {
                place: p1,
                reason: r1,
                ..
            }),
            Err(ConfigError::Invalid {
                place: p2,
                reason: r2,
                ..
            }),
        ) => {
            assert_eq!((p1, r1), (p2, r2), "{}", toml_path.display())
        }
        (a, b) => panic!(
            "{}: TOML gives {a:?}, JSON gives {b:?}",
            toml_path.display()
        ),
    }
}

#[test]
fn the_installed_android_config_reads_the_same_as_json() {
    let input = genrule_input();
    if !input.exists() {
        // The Android config (etc/android/) comes from issue 16's runtime half.
        drivervm::harness::skip::skipped(
            "the_installed_android_config_reads_the_same_as_json",
            &format!("{} is not in this tree yet", input.display()),
        );
        return;
    }
    assert_same_config(&input);
    let json = convert(&input).expect("convert");
    config::parse_json(&json, "drivervm.json")
        .unwrap_or_else(|e| panic!("the installed config is invalid: {e}"));
}

/// The embedded default config as a file (the registry assembles it from each kind's part),
/// as `drivervm --print-default-config` writes it.
fn default_config_file(dir: &Path) -> PathBuf {
    let path = dir.join("default.toml");
    std::fs::write(&path, config::DEFAULT_CONFIG_TEXT).expect("write the default config");
    path
}

#[test]
fn the_example_and_default_configs_read_the_same_as_json() {
    assert_same_config(&repo("etc/drivervm.toml"));
    let dir = tempfile::tempdir().expect("tempdir");
    assert_same_config(&default_config_file(dir.path()));
}

#[test]
fn load_reads_json_by_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = convert(&default_config_file(dir.path())).expect("convert");
    let path = dir.path().join("drivervm.json");
    std::fs::write(&path, json).expect("write");
    let loaded = config::load(&path).expect("load JSON");
    assert_eq!(loaded, config::embedded_default().expect("default"));
}

#[test]
fn json_errors_name_the_line_column_and_key() {
    let text = "{\n  \"service\": {\n    \"log_levl\": \"info\"\n  }\n}\n";
    let err = config::parse_json(text, "x.json").expect_err("unknown key");
    let ConfigError::Syntax {
        position,
        key,
        message,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(key.as_deref(), Some("service.log_levl"), "{err}");
    assert_eq!(position.map(|p| p.0), Some(3), "{err}");
    assert!(message.contains("log_levl"), "{err}");
    assert!(
        !message.contains(" at line "),
        "position is kept apart: {err}"
    );
    let err = config::parse_json("{} {}", "x.json").expect_err("trailing document");
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[test]
fn the_converter_refuses_bad_toml_and_datetimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[service\n").expect("write");
    let err = convert(&bad).expect_err("a syntax error fails the build");
    assert!(err.contains("bad.toml"), "{err}");
    let date = dir.path().join("date.toml");
    std::fs::write(&date, "[service]\nwhen = 1979-05-27T07:32:00Z\n").expect("write");
    let err = convert(&date).expect_err("datetimes have no JSON form");
    assert!(err.contains("service.when"), "{err}");
}
