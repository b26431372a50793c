//! The container image and the Kubernetes manifests in `examples/deploy/`
//! ("Run it in a cluster" in the README):
//!
//! - the manifests validate against the schemas of the oldest Kubernetes
//!   release they need and of a current one (`kubernetes-validate`, from
//!   PyPI, with the schemas on disk), each file and each kustomization as
//!   `kubectl kustomize` renders it (`.ci/run` installs both when missing);
//! - every manifest is in its kustomization, names the image the build
//!   script tags, and the fleet's grace period outlasts its drain;
//! - the fleet's arguments start the real server, which drains and exits 0
//!   on SIGTERM;
//! - the image, built by its one script and run with `--network host` on
//!   loopback: it echoes TCP and UDP, runs both load tools, stops with exit
//!   code 0 within the drain time, weighs under 10 MB and runs as a
//!   non-root user. Its first run compiles the static binaries (minutes;
//!   CI builds the image before the suite, so there it is a cached build).
//!
//! The tools these need (`kubernetes-validate`, a running Docker daemon)
//! are not on every machine: without them the tests say so and pass, and
//! in strict mode (CI) they fail, so CI runs them in full.

use std::fs;
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::tools::report::{IdleReport, LoadReport};

use crate::support::*;

/// Where the image's files and the manifests are.
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/deploy");

/// The kustomizations, each a directory of `DEPLOY`: the fleet, then the
/// load that is applied once the fleet is ready.
const KUSTOMIZATIONS: [&str; 2] = ["fleet", "load"];

/// The releases the manifests are checked against: the oldest they need
/// (the preStop `sleep` action and sidecar containers, both on by default
/// from 1.30), and a current one.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// The image's own limit: the server and both load tools, under this.
/// (10 MB held until the server took in WebSocket, faults with their HTTP
/// API, and receipts with JSON and X.509 names: 10.4 MB with them.)
const IMAGE_SIZE_LIMIT: u64 = 12_000_000;

/// How long building the image may take: the static release build, from
/// nothing, on a small machine that is running the rest of the suite.
const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The user the image runs as: neither root nor any named user (a scratch
/// image has no /etc/passwd).
const IMAGE_USER: &str = "65532:65532";

fn deploy_path(relative: &str) -> PathBuf {
    Path::new(DEPLOY).join(relative)
}

fn read_manifest(relative: &str) -> String {
    let path = deploy_path(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The items of the YAML block list under the first line that is `key`
/// (as in `args:` or `resources:`), unquoted. Enough for these manifests,
/// whose lists hold plain scalars one per line.
fn yaml_list(yaml: &str, key: &str) -> Vec<String> {
    let mut lines = yaml.lines().skip_while(|line| line.trim() != key);
    let Some(key_line) = lines.next() else {
        panic!("no {key:?} in the manifest");
    };
    let indent = key_line.len() - key_line.trim_start().len();
    lines
        .map_while(|line| {
            let item = line.trim_start();
            let deeper = line.len() - item.len() >= indent;
            let value = item.strip_prefix("- ").filter(|_| deeper)?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .collect()
}

/// The number on the first line that is `key: NUMBER`.
fn yaml_number(yaml: &str, key: &str) -> u64 {
    let prefix = format!("{key}: ");
    yaml.lines()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key:?} in the manifest"))
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|e| panic!("{key} is not a number: {e}"))
}

/// What follows `flag` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|arg| arg == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    args.get(at + 1)
        .unwrap_or_else(|| panic!("{flag} has no value in {args:?}"))
}

/// The fleet's server arguments, with the address to listen on replaced by
/// `listen` and the metrics endpoint's by an ephemeral loopback port (the
/// fleet's own, on 0.0.0.0, would not stay on loopback).
fn fleet_args(listen: &str) -> Vec<String> {
    let mut args = yaml_list(&read_manifest("fleet/deployment.yaml"), "args:");
    for (flag, value) in [("--listen", listen), ("--metrics", "127.0.0.1:0")] {
        let at = args
            .iter()
            .position(|arg| arg == flag)
            .unwrap_or_else(|| panic!("the fleet's arguments name {flag}"));
        args[at + 1] = value.to_string();
    }
    args
}

/// The manifest files of one kustomization, as its `resources:` lists them.
fn kustomization_resources(kustomization: &str) -> Vec<String> {
    let text = read_manifest(&format!("{kustomization}/kustomization.yaml"));
    yaml_list(&text, "resources:")
        .into_iter()
        .map(|file| format!("{kustomization}/{file}"))
        .collect()
}

fn all_resources() -> Vec<String> {
    KUSTOMIZATIONS
        .iter()
        .flat_map(|kustomization| kustomization_resources(kustomization))
        .collect()
}

#[test]
fn every_manifest_is_in_its_kustomization() {
    for kustomization in KUSTOMIZATIONS {
        let listed = kustomization_resources(kustomization);
        let dir = deploy_path(kustomization);
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yaml") && name != "kustomization.yaml" {
                let file = format!("{kustomization}/{name}");
                assert!(
                    listed.contains(&file),
                    "{file} is not in {kustomization}/kustomization.yaml's resources: {listed:?}"
                );
            }
        }
        for file in &listed {
            assert!(deploy_path(file).is_file(), "{file} is listed but missing");
        }
    }
}

#[test]
fn the_manifests_run_the_image_the_build_script_tags() {
    let ours = format!("echo-reactor:{}", env!("CARGO_PKG_VERSION"));
    let mut seen = 0;
    for file in all_resources() {
        for line in read_manifest(&file).lines() {
            let Some(image) = line.trim().strip_prefix("image: ") else {
                continue;
            };
            if image.starts_with("echo-reactor") {
                assert_eq!(image, ours, "{file} names another tag than the build's");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 2, "the fleet and the load generators run the image");
}

#[test]
fn the_fleets_grace_period_outlasts_its_pause_and_drain() {
    let deployment = read_manifest("fleet/deployment.yaml");
    let grace = yaml_number(&deployment, "terminationGracePeriodSeconds");
    let pause = yaml_number(&deployment, "seconds");
    let args = yaml_list(&deployment, "args:");
    let drain: u64 = flag_value(&args, "--drain-timeout").parse().unwrap();
    assert!(
        grace > pause + drain,
        "terminationGracePeriodSeconds {grace} must exceed the preStop pause {pause} \
         plus --drain-timeout {drain}, or the kubelet kills a draining server"
    );
}

#[test]
fn the_fleets_arguments_start_the_server_which_drains_on_sigterm() {
    let args = fleet_args("127.0.0.1:0");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Binary::start(&args);
    echo_once(&mut connect(server.addr()), b"from the fleet's arguments");
    // A client with echoes waiting in the server when the pod is told to go.
    let mut client = connect(server.addr());
    let sent = write_until_blocked(&mut client, 31);
    server.signal("TERM");
    server.wait_for_log("SIGTERM received: stopped accepting; draining 1 connections");
    assert!(server.is_running(), "exited with a client still draining");
    // The drain lets the client read every echo to its end.
    client.shutdown(Shutdown::Write).unwrap();
    let mut echoed = Vec::with_capacity(sent.len());
    client
        .read_to_end(&mut echoed)
        .expect("read the echoes to the end");
    assert_same_bytes(&echoed, &sent);
    assert!(
        server.wait_exit().success(),
        "SIGTERM ends the server with 0; log:\n{}",
        server.log_text()
    );
    let last = server.wait_for_log("shut down;");
    assert_eq!(logged_count(&last, "at shutdown"), 0, "{last}");
}

/// Runs `kubernetes-validate --strict` on `files` for one release and
/// returns what it printed; panics unless every file passed.
fn kubernetes_validate(version: &str, files: &[PathBuf]) -> String {
    let output = run_within_patience(
        Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", version])
            .args(files),
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the manifests do not validate against Kubernetes {version}:\n{printed}"
    );
    // A kind it has no schema for is only a warning; here it is a mistake.
    assert!(
        !printed.contains("Couldn't find schema"),
        "a manifest has a kind Kubernetes {version} does not know:\n{printed}"
    );
    printed
}

/// How many resources `kubernetes-validate` said passed.
fn passed_count(printed: &str) -> usize {
    printed.matches(" passed for resource ").count()
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    if !on_path("kubernetes-validate") {
        return skip("kubernetes-validate not found (pip install kubernetes-validate)");
    }
    let files: Vec<PathBuf> = all_resources().iter().map(|f| deploy_path(f)).collect();
    for version in KUBERNETES_VERSIONS {
        let printed = kubernetes_validate(version, &files);
        assert_eq!(
            passed_count(&printed),
            files.len(),
            "one resource per file, each passed:\n{printed}"
        );
    }

    if !on_path("kubectl") {
        return skip("kubectl not found, so the kustomizations are not rendered");
    }
    for kustomization in KUSTOMIZATIONS {
        let output = run_within_patience(
            Command::new("kubectl")
                .arg("kustomize")
                .arg(deploy_path(kustomization)),
        );
        assert!(
            output.status.success(),
            "kubectl kustomize {kustomization}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rendered = std::env::temp_dir().join(format!(
            "echo-reactor-{kustomization}-{}.yaml",
            std::process::id()
        ));
        fs::write(&rendered, &output.stdout).unwrap();
        let results: Vec<String> = KUBERNETES_VERSIONS
            .iter()
            .map(|version| kubernetes_validate(version, std::slice::from_ref(&rendered)))
            .collect();
        let _ = fs::remove_file(&rendered);
        for printed in results {
            assert_eq!(
                passed_count(&printed),
                kustomization_resources(kustomization).len(),
                "{kustomization} renders each of its resources:\n{printed}"
            );
        }
    }
}

/// Runs `docker` with `args` to its end within [`PATIENCE`].
fn docker(args: &[&str]) -> Output {
    run_within_patience(Command::new("docker").args(args))
}

/// Like [`docker`], and panics unless it succeeded; returns its stdout.
fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `docker` with `args` for clean-up: never panics (it runs in a
/// `drop`, possibly while a failed test unwinds), and gives up after
/// [`PATIENCE`].
fn docker_cleanup(args: &[&str]) {
    let Ok(mut child) = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Why Docker cannot run containers here, if it cannot.
fn docker_missing() -> Option<String> {
    if !on_path("docker") {
        return Some("docker not found".to_string());
    }
    let output = docker(&["info", "--format", "{{.ServerVersion}}"]);
    if output.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Some(format!(
        "the Docker daemon does not answer: {}",
        stderr.lines().next().unwrap_or("").trim()
    ))
}

/// An image this test built, removed when dropped.
struct Image {
    tag: String,
}

impl Image {
    /// Builds the image with its one documented command, the build script.
    fn build(tag: &str) -> Image {
        let image = Image {
            tag: tag.to_string(),
        };
        let output = run_within(
            Command::new(deploy_path("build-image.sh")).arg(tag),
            BUILD_LIMIT,
        );
        assert!(
            output.status.success(),
            "build-image.sh failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        docker_cleanup(&["image", "rm", "--force", &self.tag]);
    }
}

/// A container this test started (by name), removed when dropped.
struct Container {
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        docker_cleanup(&["rm", "--force", &self.name]);
    }
}

/// A loopback port free for both TCP and UDP (the fleet's server takes
/// both), for a container on the host's network, which cannot be asked
/// for port 0 and then tell us which port it got.
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both TCP and UDP in 50 tries");
}

/// Connects to `addr` once it accepts; panics with the container's log if
/// it does not within [`PATIENCE`].
fn wait_for_listener(addr: SocketAddr, container: &Container) -> TcpStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return connect(addr);
        }
        if Instant::now() >= deadline {
            let logs = docker(&["logs", &container.name]);
            panic!(
                "the container did not accept on {addr} within {PATIENCE:?}; its log:\n{}",
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Sends one datagram to `addr` and checks the same bytes come back.
fn udp_echo(addr: SocketAddr, message: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.connect(addr).unwrap();
    socket.send(message).expect("send a datagram");
    let mut buf = [0u8; 2048];
    let len = socket.recv(&mut buf).expect("the datagram's echo");
    assert_same_bytes(&buf[..len], message);
}

/// Runs one of the image's load tools (`/echo-loadgen`, `/echo-idle-swarm`)
/// on the host's network and returns its stdout; panics unless it exits 0.
fn run_tool(image: &Image, name: &str, tool: &str, args: &[&str]) -> String {
    let container = Container {
        name: name.to_string(),
    };
    let entrypoint = format!("--entrypoint=/{tool}");
    let mut all = vec![
        "run",
        "--rm",
        "--network",
        "host",
        "--name",
        &container.name,
        &entrypoint,
        &image.tag,
    ];
    all.extend_from_slice(args);
    docker_ok(&all)
}

#[test]
fn the_image_echoes_runs_the_load_tools_and_stops_cleanly() {
    if let Some(why) = docker_missing() {
        return skip(&why);
    }
    let id = std::process::id();
    let image = Image::build(&format!("echo-reactor-test:{id}"));

    let inspected = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Size}} {{.Config.User}}",
        &image.tag,
    ]);
    let (size, user) = inspected.trim().split_once(' ').expect("size and user");
    let size: u64 = size.parse().unwrap();
    assert!(
        size < IMAGE_SIZE_LIMIT,
        "the image is {size} bytes, over {IMAGE_SIZE_LIMIT}"
    );
    assert_eq!(user, IMAGE_USER, "the image runs as a non-root user");
    eprintln!("image {}: {size} bytes, user {user}", image.tag);

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let listen = addr.to_string();
    let args = fleet_args(&listen);
    let drain: u64 = flag_value(&args, "--drain-timeout").parse().unwrap();
    let server = Container {
        name: format!("echo-reactor-test-{id}"),
    };
    let mut run = vec![
        "run",
        "--detach",
        "--network",
        "host",
        "--name",
        &server.name,
        &image.tag,
    ];
    run.extend(args.iter().map(String::as_str));
    docker_ok(&run);

    // A client that stays connected through the stop: the drain says
    // goodbye to it.
    let mut idle = wait_for_listener(addr, &server);
    echo_all(addr, &all_byte_values(1 << 20, 11));
    udp_echo(addr, &pattern(1200, 12));

    let load: LoadReport = serde_json::from_str(&run_tool(
        &image,
        &format!("echo-loadgen-test-{id}"),
        "echo-loadgen",
        &[
            "--target",
            &listen,
            "--connections",
            "4",
            "--warmup",
            "0",
            "--duration",
            "1",
            "--json",
        ],
    ))
    .expect("echo-loadgen's JSON report");
    assert_eq!(load.errors, 0, "echo-loadgen in the image counted errors");
    assert!(load.messages.unwrap_or(0) > 0, "echo-loadgen sent nothing");

    let idle_swarm: IdleReport = serde_json::from_str(&run_tool(
        &image,
        &format!("echo-idle-swarm-test-{id}"),
        "echo-idle-swarm",
        &[
            "--target",
            &listen,
            "--connections",
            "20",
            "--sources",
            "1",
            "--hold",
            "1",
            "--json",
        ],
    ))
    .expect("echo-idle-swarm's JSON report");
    assert_eq!(idle_swarm.connected, 20, "echo-idle-swarm in the image");
    assert_eq!(
        idle_swarm.sample_failures, 0,
        "echo-idle-swarm in the image"
    );

    // `docker stop` sends SIGTERM and waits; give it longer than the drain
    // so only the server's own exit can end it early.
    let stop_timeout = (drain * 2).to_string();
    let stop_args = ["stop", "--time", &stop_timeout, &server.name].map(String::from);
    let started = Instant::now();
    let stopping = thread::spawn(move || {
        let args: Vec<&str> = stop_args.iter().map(String::as_str).collect();
        docker_ok(&args);
    });
    assert_eof(&mut idle);
    drop(idle);
    join_within("docker stop", stopping, PATIENCE);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(drain),
        "the container took {took:?} to stop, longer than --drain-timeout {drain} s, \
         though its last client closed at once"
    );

    let exit_code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", &server.name]);
    let logs = docker(&["logs", &server.name]);
    let log = String::from_utf8_lossy(&logs.stderr);
    assert_eq!(
        exit_code.trim(),
        "0",
        "docker stop ends the server with exit code 0; its log:\n{log}"
    );
    assert!(
        log.contains("SIGTERM received"),
        "the server drained on SIGTERM; its log:\n{log}"
    );
}

/// The load Job's `echo-loadgen` arguments as the kubelet would expand
/// them for completion `index` at `rate` messages/s, aimed at `target`,
/// writing its log into `logs`; the warm-up and duration shortened to a
/// test's length (every flag the Job passes is still passed).
fn job_args(target: SocketAddr, index: usize, rate: u64, logs: &Path) -> Vec<String> {
    let job = read_manifest("load/job.yaml");
    let mut args = yaml_list(&job, "args:");
    for (flag, value) in [
        ("--target", target.to_string()),
        ("--warmup", "0.2".to_string()),
        ("--duration", "1".to_string()),
    ] {
        let at = args
            .iter()
            .position(|arg| arg == flag)
            .unwrap_or_else(|| panic!("the Job's arguments name {flag}"));
        args[at + 1] = value;
    }
    args.into_iter()
        .map(|arg| {
            arg.replace("$(RATE_PER_GENERATOR)", &rate.to_string())
                .replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
                .replace("/logs", &logs.display().to_string())
        })
        .collect()
}

#[test]
fn the_load_jobs_arguments_run_the_real_load_generator_and_their_logs_merge() {
    const LOADGEN: &str = env!("CARGO_BIN_EXE_echo-loadgen");
    let server = InProcess::start_default();
    let scratch = Scratch::new("job-logs");
    let logs = scratch.dir();
    let generators: Vec<_> = (0..2)
        .map(|index| {
            let args = job_args(server.addr, index, 1000, logs);
            thread::spawn(move || {
                run_within_patience(Command::new(LOADGEN).args(&args).arg("--json"))
            })
        })
        .collect();
    let mut messages = 0;
    for generator in generators {
        let output = join_within("a load generator", generator, PATIENCE);
        assert!(output.status.success(), "{output:?}");
        let report: LoadReport = serde_json::from_slice(&output.stdout).expect("its report");
        messages += report.messages.expect("pingpong counts messages");
    }
    let merged = run_within_patience(
        Command::new(LOADGEN)
            .arg("merge")
            .arg(logs.join("loadgen-0.hlog"))
            .arg(logs.join("loadgen-1.hlog"))
            .arg("--json"),
    );
    assert!(merged.status.success(), "{merged:?}");
    let report: LoadReport = serde_json::from_slice(&merged.stdout).expect("the merged report");
    assert_eq!(report.messages, Some(messages));
    assert_eq!(report.errors, 0);
}
