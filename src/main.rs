//! The drivervm daemon: serves the configured devices until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use log::{error, info};
use nix::sys::signal::{SigSet, Signal};

use drivervm::config::{self, Config};
use drivervm::sandbox::{self, Identity, Role};
use drivervm::{control, logging, service};

/// Serves a driver VM's SoC hardware (clocks, RPMB, audio, FM radio) to guest VMs as
/// standard virtio devices over vhost-user or, from a Gunyah driver VM, over Gunyah's
/// virtio-backend interface.
///
/// Without --config, the embedded default runs: a simulated SoC served to one guest, so the
/// service works on any Linux machine. Attach a VMM to the sockets it prints (see README.md).
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// Config file (TOML); etc/drivervm.toml documents every key.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Where sockets go [default: $XDG_RUNTIME_DIR/drivervm, else /run/drivervm as root, else ./run].
    #[arg(long, value_name = "DIR")]
    runtime_dir: Option<PathBuf>,

    /// Where persistent state (RPMB images, keys) goes [default: $XDG_STATE_HOME/drivervm,
    /// else /var/lib/drivervm as root, else ./state].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Print the embedded default config and exit.
    #[arg(long)]
    print_default_config: bool,

    /// Validate the config, print what would be served, and exit.
    #[arg(long)]
    check_config: bool,
}

/// Exit status for a bad config file or command line.
const EXIT_CONFIG: u8 = 2;

fn load(args: &Args) -> Result<Config, config::ConfigError> {
    // Kinds the registry adds must be known before a config names them.
    service::registry::register_kinds();
    match &args.config {
        Some(path) => config::load(path),
        None => config::embedded_default(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_default_config {
        print!("{}", config::DEFAULT_CONFIG_TEXT);
        return ExitCode::SUCCESS;
    }
    let cfg = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("drivervm: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    logging::init(cfg.service.log_level.as_deref());
    let runtime_dir = config::resolve_runtime_dir(
        args.runtime_dir.as_deref(),
        &cfg,
        |k| std::env::var(k).ok(),
        nix::unistd::geteuid().as_raw(),
    );
    let state_dir = config::resolve_state_dir(
        args.state_dir.as_deref(),
        &cfg,
        |k| std::env::var(k).ok(),
        nix::unistd::geteuid().as_raw(),
    );
    if args.check_config {
        if let Err(e) = print_service_settings(&cfg, &runtime_dir, &state_dir) {
            eprintln!("drivervm: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
        for guest in &cfg.guests {
            for dev in &guest.devices {
                println!(
                    "{}\t{}\t{}\t{}",
                    dev.id,
                    guest.name,
                    dev.kind().name(),
                    dev.transport.describe(&runtime_dir)
                );
            }
        }
        return ExitCode::SUCCESS;
    }
    // Before any thread exists: every thread inherits no_new_privs and waits for the
    // privilege drop before it touches a guest byte.
    if let Err(e) = sandbox::announce() {
        error!("{e}");
        eprintln!("drivervm: {e}");
        return ExitCode::FAILURE;
    }
    let identity = match Identity::resolve(&cfg.service, nix::unistd::geteuid()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("drivervm: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(&cfg, &runtime_dir, &state_dir, &identity) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("drivervm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    cfg: &Config,
    runtime_dir: &std::path::Path,
    state_dir: &std::path::Path,
    identity: &Identity,
) -> anyhow::Result<()> {
    // Every thread inherits this mask, so only the sigwait below ever sees these signals.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.thread_block()?;

    let svc = service::start_in(cfg, runtime_dir, state_dir)?;
    let (_control, root) = match start_control(cfg, runtime_dir, &svc) {
        Ok(c) => c,
        Err(e) => {
            // Leave no device socket behind for a VMM to find dead.
            svc.remove_sockets();
            return Err(e);
        }
    };
    // Every node is open and every socket bound: nothing privileged is left to do.
    let report = match sandbox::lock_down(cfg, runtime_dir, state_dir, identity) {
        Ok(r) => r,
        Err(e) => {
            svc.remove_sockets();
            return Err(e.into());
        }
    };
    log_sandbox(identity, &report);
    if control::kernel_binder_present() {
        register_kernel_binder(root)?;
    }
    sandbox::enter(Role::Main);
    info!(
        "ready: {} device(s) listening in {}",
        svc.endpoints().len(),
        runtime_dir.display()
    );
    let sig = signals.wait()?;
    info!("{sig}: removing sockets and exiting");
    svc.remove_sockets();
    Ok(())
}

/// Serves the status interface over RPC binder on every endpoint the config asks for; the
/// returned handles keep the RPC servers running. Kernel binder comes later
/// ([`register_kernel_binder`]), once privileges are dropped.
fn start_control(
    cfg: &Config,
    runtime_dir: &std::path::Path,
    svc: &service::Service,
) -> anyhow::Result<(
    Vec<control::RpcHandle>,
    control::Strong<dyn control::iface::IDriverVm::IDriverVm>,
)> {
    use anyhow::Context;
    let driver_vm = control::DriverVm::new(svc.status().clone(), &service::registry::Kinds)
        .context("cannot start the control event thread")?;
    let root = driver_vm.binder();
    let mut handles = Vec::new();
    if control::RPC_AVAILABLE {
        // Looked up only here: a build without RPC (Soong) never needs the group.
        let group = control_group(cfg)?;
        let path = cfg.service.control_socket_path(runtime_dir);
        handles.push(control::serve_unix(
            &path,
            group,
            cfg.service.control_uids.clone(),
            &root,
        )?);
        info!(
            "control: vendor.drivervm.IDriverVm on unix:{}",
            path.display()
        );
    }
    if let Some(vsock) = cfg
        .service
        .control_vsock
        .as_ref()
        .filter(|_| control::RPC_AVAILABLE)
    {
        handles.push(control::serve_vsock(
            vsock.port,
            vsock.allowed_cids.clone(),
            &root,
        )?);
        info!(
            "control: vendor.drivervm.IDriverVm on vsock port {} for CIDs {:?}",
            vsock.port, vsock.allowed_cids
        );
    }
    Ok((handles, root))
}

/// Registers with servicemanager from a thread in the kernel-binder role, so that the
/// binder thread pool it starts inherits that role's filter.
fn register_kernel_binder(
    root: control::Strong<dyn control::iface::IDriverVm::IDriverVm>,
) -> anyhow::Result<()> {
    let thread = std::thread::Builder::new()
        .name("binder-register".into())
        .spawn(move || {
            sandbox::enter(Role::KernelBinder);
            control::register_kernel(&root)
        })?;
    // Without servicemanager (a plain Linux host with binderfs) the RPC endpoints still
    // serve, so this is logged rather than fatal.
    match thread.join() {
        Ok(Ok(())) => info!("control: registered {}", control::SERVICE_NAME),
        Ok(Err(e)) => log::warn!("control: {e}"),
        Err(_) => log::warn!("control: the binder registration thread panicked"),
    }
    Ok(())
}

/// Says what the sandbox does, once, at start-up: loudly when part of it is off.
fn log_sandbox(id: &Identity, report: &sandbox::Report) {
    if id.root_without_user {
        log::warn!(
            "sandbox: started as root without service.user: staying uid 0 with no \
             capabilities; set service.user to run as an unprivileged user"
        );
    }
    if !report.seccomp {
        log::warn!("sandbox: SECCOMP IS OFF ({})", report.seccomp_off);
    }
    if !report.landlock {
        log::warn!("sandbox: landlock is off: {}", report.landlock_off);
    }
    info!(
        "sandbox: uid {} gid {}, no capabilities, no_new_privs, seccomp {}, landlock {} \
         ({} us)",
        id.uid,
        id.gid,
        if report.seccomp { "on" } else { "off" },
        if report.landlock { "on" } else { "off" },
        report.took.as_micros()
    );
}

/// The control socket's group, resolved; errors name the key that set it.
fn control_group(cfg: &Config) -> Result<Option<nix::unistd::Gid>, config::GroupError> {
    cfg.service
        .control_group_setting()
        .map(|(key, value)| config::resolve_group(key, value))
        .transpose()
}

/// `--check-config`'s service lines, `key<TAB>value`: the directories, groups and control
/// endpoints the service would use, groups resolved as a start would (so a group that would
/// stop the service fails the check, naming its key).
fn print_service_settings(
    cfg: &Config,
    runtime_dir: &std::path::Path,
    state_dir: &std::path::Path,
) -> Result<(), config::GroupError> {
    println!("runtime_dir\t{}", runtime_dir.display());
    println!("state_dir\t{}", state_dir.display());
    if let Some(name) = &cfg.service.socket_group {
        let gid = config::resolve_group("service.socket_group", name)?;
        println!("socket_group\t{gid}");
    }
    if control::RPC_AVAILABLE {
        println!(
            "control_socket\t{}",
            cfg.service.control_socket_path(runtime_dir).display()
        );
        if let Some(gid) = control_group(cfg)? {
            println!("control_group\t{gid}");
        }
        if let Some(vsock) = &cfg.service.control_vsock {
            println!("control_vsock_port\t{}", vsock.port);
        }
    } else {
        println!("control_socket\tnot served: this build has no RPC binder");
    }
    println!("binder_service\t{}", control::SERVICE_NAME);
    Ok(())
}
