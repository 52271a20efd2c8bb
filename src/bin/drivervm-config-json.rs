//! Converts a drivervm TOML config to the JSON the Android build installs.
//!
//! AOSP builds `libtoml` for the host only, so a vendor binary cannot read TOML. Soong runs
//! this tool at build time (genrule `drivervm_config_json` in Android.bp): a TOML syntax error
//! fails the build, and the device reads the result with the vendor-available serde_json into
//! the same config structs, which the service then validates exactly as it validates TOML.
//!
//! Usage: `drivervm-config-json IN.toml OUT.json`

use std::process::ExitCode;

/// Converts one TOML value; TOML datetimes have no JSON form and no config key uses them.
fn to_json(value: toml::Value, key: &str) -> Result<serde_json::Value, String> {
    Ok(match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{key}: {f} has no JSON form"))?,
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => {
            return Err(format!("{key}: datetime {d} is not a config value"))
        }
        toml::Value::Array(items) => serde_json::Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{key}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .into_iter()
                .map(|(k, v)| {
                    let path = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    to_json(v, &path).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn convert(input: &str, output: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{input}: {e}"))?;
    let value: toml::Value = toml::from_str(&text).map_err(|e| format!("{input}: {e}"))?;
    let json = to_json(value, "")?;
    let mut out = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    out.push('\n');
    std::fs::write(output, out).map_err(|e| format!("{output}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        eprintln!("usage: drivervm-config-json IN.toml OUT.json");
        return ExitCode::from(2);
    };
    match convert(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drivervm-config-json: {e}");
            ExitCode::FAILURE
        }
    }
}
