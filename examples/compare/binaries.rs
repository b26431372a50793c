//! Building what the comparison runs, so it works on a fresh clone: the
//! release server and load tools (`cargo build --release --bins`), the
//! tokio peers (examples), and `epoll-echo.c` when given (`cc -O2`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Args;

/// Paths of every program that gets run.
pub struct Binaries {
    pub echo_reactor: PathBuf,
    /// An earlier build of the server (`--baseline`).
    pub baseline: Option<PathBuf>,
    pub tokio_echo: PathBuf,
    /// The WebSocket peer (`examples/tokio_ws_echo.rs`).
    pub tokio_ws_echo: PathBuf,
    pub epoll_echo: Option<PathBuf>,
    pub loadgen: PathBuf,
    pub idle_swarm: PathBuf,
}

/// Builds the binaries (release) and returns where they are.
pub fn build(args: &Args, out: &Path) -> Result<Binaries, String> {
    // Checked first: a wrong path should not cost a build.
    let baseline = match &args.baseline {
        Some(path) => Some(baseline_binary(path)?),
        None => None,
    };
    let release = target_dir()?.join("release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("compare: building the servers and the load tools (cargo build --release)");
    let status = Command::new(&cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--release", "--bins", "--example", "tokio_echo"])
        .args(["--example", "tokio_ws_echo"])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }

    let bins = Binaries {
        echo_reactor: release.join("echo-reactor"),
        baseline,
        tokio_echo: release.join("examples/tokio_echo"),
        tokio_ws_echo: release.join("examples/tokio_ws_echo"),
        epoll_echo: match &args.epoll_echo {
            Some(source) => Some(compile_c(source, &out.join("epoll-echo"))?),
            None => None,
        },
        loadgen: release.join("echo-loadgen"),
        idle_swarm: release.join("echo-idle-swarm"),
    };
    let idle_swarm = (!args.skip_idle).then_some(&bins.idle_swarm);
    let tokio_ws_echo = (!args.skip_websocket).then_some(&bins.tokio_ws_echo);
    for path in [&bins.echo_reactor, &bins.tokio_echo, &bins.loadgen]
        .into_iter()
        .chain(idle_swarm)
        .chain(tokio_ws_echo)
    {
        if !path.exists() {
            return Err(format!("built, but {} is not there", path.display()));
        }
    }
    Ok(bins)
}

/// The `--baseline` binary, as an absolute path, if it runs.
fn baseline_binary(path: &Path) -> Result<PathBuf, String> {
    let unusable = |why: &dyn std::fmt::Display| {
        format!(
            "--baseline {}: {why} (give an echo-reactor binary from an earlier build)",
            path.display()
        )
    };
    let absolute = path.canonicalize().map_err(|e| unusable(&e))?;
    if !(absolute.is_file() && installed(&absolute)) {
        return Err(unusable(&"not a program that runs"));
    }
    Ok(absolute)
}

/// Cargo's target directory, whatever CARGO_TARGET_DIR says: this program
/// is TARGET/release/examples/compare (or TARGET/debug/...).
pub fn target_dir() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    me.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("cannot find the target directory from {}", me.display()))
}

/// Compiles `source` with `cc -O2` (or gcc) into `binary`.
fn compile_c(source: &Path, binary: &Path) -> Result<PathBuf, String> {
    let Some(compiler) = ["cc", "gcc"].into_iter().find(|c| installed(c)) else {
        return Err(format!(
            "--epoll-echo {} given, but neither cc nor gcc is installed",
            source.display()
        ));
    };
    eprintln!(
        "compare: {compiler} -O2 -o {} {}",
        binary.display(),
        source.display()
    );
    let status = Command::new(compiler)
        .arg("-O2")
        .arg("-o")
        .arg(binary)
        .arg(source)
        .status()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{compiler} failed on {} ({status})",
            source.display()
        ));
    }
    Ok(binary.to_path_buf())
}

/// Whether `program --version` runs.
pub fn installed(program: impl AsRef<OsStr>) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
