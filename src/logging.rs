//! Log setup: Android's logd on Android, stderr (env_logger) everywhere else.

/// Starts logging at `level` (error..trace); `RUST_LOG` overrides it off Android.
pub fn init(level: Option<&str>) {
    let level = level.unwrap_or("info");
    #[cfg(target_os = "android")]
    {
        let filter = level.parse().unwrap_or(log::LevelFilter::Info);
        android_logger::init_once(
            android_logger::Config::default()
                .with_tag("drivervm")
                .with_max_level(filter),
        );
    }
    #[cfg(not(target_os = "android"))]
    {
        let env = env_logger::Env::default().default_filter_or(level);
        // A second init (tests) is harmless.
        let _ = env_logger::Builder::from_env(env)
            .format_timestamp_millis()
            .try_init();
    }
}
