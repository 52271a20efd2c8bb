//! drivervmctl: asks a running drivervm what it is doing, over its vendor.drivervm.IDriverVm
//! status interface.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use drivervm::config;
use drivervm::control::iface::{self, IDriverVm::IDriverVm, IDriverVmListener::IDriverVmListener};
use drivervm::control::{self, BinderResult, Interface, Status, Strong, Target};

#[path = "drivervmctl/detail.rs"]
mod detail;

use detail::Detail;

const LONG_ABOUT: &str = "Queries a running drivervm over its status interface \
(vendor.drivervm.IDriverVm, read-only: nothing here changes device or hardware state).

Without --connect, drivervmctl uses the local control socket of the config given with \
--config, else of the built-in default config (the runtime dir rules of drivervm apply: \
$XDG_RUNTIME_DIR/drivervm, /run/drivervm as root, else ./run).

Exit status: 0 on success, 1 when the service cannot be reached or refuses the query \
(e.g. an unknown device id), 2 on a bad command line.";

/// Status of a running drivervm.
#[derive(Parser, Debug)]
#[command(name = "drivervmctl", version, about, long_about = LONG_ABOUT)]
struct Args {
    /// Where the service is: unix:PATH, vsock:CID:PORT (the host VM), or binder
    /// (servicemanager, on Android).
    #[arg(long, value_name = "TARGET", global = true)]
    connect: Option<Target>,

    /// Take the control socket from this drivervm config file.
    #[arg(
        short,
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "connect"
    )]
    config: Option<PathBuf>,

    /// Print JSON (one object, or one object per line for watch) instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One line per device: kind, guest, link state and request counters.
    Status,
    /// Everything about one device: transport, features, every queue, per-kind state
    /// (clocks, RPMB counter, tuner, audio streams).
    Device {
        /// Device id, as `status` lists it (e.g. vm0-scmi).
        id: String,
    },
    /// Prints link and device state changes as they happen, until interrupted.
    Watch,
}

/// A failure worth one line on stderr.
struct Failure(String);

impl From<control::ControlError> for Failure {
    fn from(e: control::ControlError) -> Self {
        Failure(e.to_string())
    }
}

impl From<Status> for Failure {
    fn from(s: Status) -> Self {
        Failure(control::describe_status(&s).1)
    }
}

fn default_target(config_file: Option<&PathBuf>) -> Result<Target, Failure> {
    if !control::RPC_AVAILABLE {
        // The Soong build speaks kernel binder only.
        return Ok(Target::Binder);
    }
    drivervm::service::registry::register_kinds();
    let cfg = match config_file {
        Some(path) => config::load(path),
        None => config::embedded_default(),
    }
    .map_err(|e| Failure(e.to_string()))?;
    let runtime_dir = config::resolve_runtime_dir(
        None,
        &cfg,
        |k| std::env::var(k).ok(),
        nix::unistd::geteuid().as_raw(),
    );
    Ok(Target::Unix(cfg.service.control_socket_path(&runtime_dir)))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("drivervmctl: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let target = match &args.connect {
        Some(t) => t.clone(),
        None => default_target(args.config.as_ref())?,
    };
    let watching = matches!(args.command, Command::Watch);
    let conn = control::connect(&target, watching)?;
    let svc = &conn.service;
    match &args.command {
        Command::Status => status(svc.as_ref(), args.json),
        Command::Device { id } => device(svc.as_ref(), id, args.json),
        Command::Watch => watch(svc, &target, args.json),
    }
}

fn link_name(l: iface::LinkState::LinkState) -> String {
    match control::link_from_aidl(l) {
        Some(s) => s.name().to_owned(),
        None => format!("unknown({})", l.0),
    }
}

/// The device's kind name: the one the service sends (V2), else the one its enum value
/// stands for (a V1 service), else the bare value.
fn kind_name(d: &iface::DeviceStatus::DeviceStatus) -> String {
    if !d.r#kindName.is_empty() {
        return d.r#kindName.clone();
    }
    match control::kind_from_aidl(d.r#kind) {
        Some(kind) => kind.name().to_owned(),
        None => format!("unknown({})", d.r#kind.0),
    }
}

fn transport_name(t: iface::TransportKind::TransportKind) -> String {
    use iface::TransportKind::TransportKind as T;
    match t {
        T::VHOST_USER => "vhost-user".into(),
        T::GUNYAH => "gunyah".into(),
        T::RPMB_DEV => "rpmb-dev".into(),
        other => format!("unknown({})", other.0),
    }
}

fn totals(d: &iface::DeviceStatus::DeviceStatus) -> (i64, i64, i64) {
    d.r#queues.iter().fold((0, 0, 0), |(r, e, b), q| {
        (
            r.saturating_add(q.r#requests),
            e.saturating_add(q.r#errors),
            b.saturating_add(q.r#bytes),
        )
    })
}

fn device_json(d: &iface::DeviceStatus::DeviceStatus) -> Value {
    json!({
        "id": d.r#id,
        "kind": kind_name(d),
        "guest": d.r#guest,
        "transport": transport_name(d.r#transport),
        "endpoint": d.r#endpoint,
        "link": link_name(d.r#link),
        "features": format!("{:#x}", d.r#negotiatedFeatures as u64),
        "queues": d.r#queues.iter().map(|q| json!({
            "index": q.r#index,
            "requests": q.r#requests,
            "errors": q.r#errors,
            "bytes": q.r#bytes,
        })).collect::<Vec<_>>(),
        "last_error": d.r#lastError,
    })
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn status(svc: &dyn IDriverVm, as_json: bool) -> Result<(), Failure> {
    let info = svc.r#getServiceInfo()?;
    let devices = svc.r#listDevices()?;
    if as_json {
        let out = json!({
            "service": {
                "name": info.r#name,
                "version": info.r#version,
                "uptime_ms": info.r#uptimeMillis,
            },
            "devices": devices.iter().map(device_json).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} {}, up {}s, {} device(s)",
        info.r#name,
        info.r#version,
        info.r#uptimeMillis / 1000,
        devices.len()
    );
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            let (r, e, b) = totals(d);
            vec![
                d.r#id.clone(),
                kind_name(d),
                d.r#guest.clone(),
                link_name(d.r#link),
                r.to_string(),
                e.to_string(),
                b.to_string(),
                d.r#endpoint.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "DEVICE", "KIND", "GUEST", "LINK", "REQUESTS", "ERRORS", "BYTES", "ENDPOINT",
        ],
        &rows,
    );
    Ok(())
}

fn device(svc: &dyn IDriverVm, id: &str, as_json: bool) -> Result<(), Failure> {
    let d = svc.r#getDevice(id)?;
    let version = svc.r#getInterfaceVersion()?;
    if version < detail::GET_DETAIL_VERSION {
        // stderr, so that --json output stays one object.
        eprintln!(
            "drivervmctl: note: the service speaks vendor.drivervm V{version}, which has no \
             getDetail; reading the detail through the V1 per-kind getters"
        );
    }
    let detail = Detail::fetch(svc, &d, version);
    if as_json {
        let mut v = device_json(&d);
        v["interface_version"] = json!(version);
        v["detail"] = detail.json();
        println!("{v}");
        return Ok(());
    }
    let (r, e, b) = totals(&d);
    println!("device      {}", d.r#id);
    println!("kind        {}", kind_name(&d));
    println!("guest       {}", d.r#guest);
    println!(
        "transport   {} {}",
        transport_name(d.r#transport),
        d.r#endpoint
    );
    println!("link        {}", link_name(d.r#link));
    println!("features    {:#x}", d.r#negotiatedFeatures as u64);
    println!("totals      {r} requests, {e} errors, {b} bytes");
    println!(
        "last error  {}",
        if d.r#lastError.is_empty() {
            "-"
        } else {
            &d.r#lastError
        }
    );
    let rows: Vec<Vec<String>> = d
        .r#queues
        .iter()
        .map(|q| {
            vec![
                q.r#index.to_string(),
                q.r#requests.to_string(),
                q.r#errors.to_string(),
                q.r#bytes.to_string(),
            ]
        })
        .collect();
    print_table(&["QUEUE", "REQUESTS", "ERRORS", "BYTES"], &rows);
    for line in detail.lines() {
        println!("{line}");
    }
    Ok(())
}

/// What the printing loop hears: an event, or that the service is gone.
enum Heard {
    Event(Value),
    Died,
}

/// Forwards listener calls to the printing loop.
struct Printer(Mutex<Sender<Heard>>);

impl Printer {
    fn send(&self, v: Value) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(Heard::Event(v));
        }
    }
}

impl Interface for Printer {}

impl IDriverVmListener for Printer {
    fn r#onLinkStateChanged(
        &self,
        device: &str,
        state: iface::LinkState::LinkState,
    ) -> BinderResult<()> {
        self.send(json!({"event": "link", "device": device, "state": link_name(state)}));
        Ok(())
    }

    fn r#onDeviceStateChanged(&self, device: &str) -> BinderResult<()> {
        self.send(json!({"event": "state", "device": device}));
        Ok(())
    }
}

fn watch(svc: &Strong<dyn IDriverVm>, target: &Target, as_json: bool) -> Result<(), Failure> {
    let (tx, rx) = channel();
    let on_death = Mutex::new(tx.clone());
    // Told by the binder itself: kernel binder's death notification, or the end of the RPC
    // session (its callback connection reads EOF). Nothing polls.
    let _death = control::watch_death(
        svc,
        Box::new(move || {
            if let Ok(tx) = on_death.lock() {
                let _ = tx.send(Heard::Died);
            }
        }),
    )?;
    let listener = control::new_listener(Printer(Mutex::new(tx)));
    svc.r#registerListener(&listener)?;
    if !as_json {
        println!("watching {target} (Ctrl-C to stop)");
    }
    loop {
        match rx.recv() {
            Ok(Heard::Event(v)) => {
                if as_json {
                    println!("{v}");
                } else if v["event"] == "link" {
                    println!(
                        "{}  link {}",
                        v["device"].as_str().unwrap_or(""),
                        v["state"].as_str().unwrap_or("")
                    );
                } else {
                    println!("{}  state changed", v["device"].as_str().unwrap_or(""));
                }
            }
            Ok(Heard::Died) | Err(_) => {
                return Err(Failure(format!("lost {target}: the service died")));
            }
        }
    }
}
