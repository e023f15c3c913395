//! The local AWS: a moto server in the project's virtualenv, on a free loopback port, stopped when
//! the handle is dropped (and, should this process die without dropping it, when its parent goes).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pinned requirements, relative to the workspace root.
pub const REQUIREMENTS: &str = "tests/localaws/requirements.txt";
/// What the pinned server lacks for the endpoint paths (UpdateEndpoint, newer instance types, a
/// stand-in for SageMaker's auto-rollback), loaded into it before it starts.
pub const EXTENSIONS: &str = "tests/localaws";

/// Why the local AWS could not start; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalAwsError {
    #[error("could not run `{command}`: {message}")]
    Command { command: String, message: String },
    #[error(
        "installing the local AWS failed (`{command}` exited with {status}); check that python3 with venv and pip can reach the package index, then run it again"
    )]
    Install { command: String, status: String },
    #[error("the local AWS did not answer on {endpoint} within {seconds} s; its output: {output}")]
    NotReady {
        endpoint: String,
        seconds: u64,
        output: String,
    },
}

/// A running moto server.
#[derive(Debug)]
pub struct LocalAws {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl LocalAws {
    /// Starts the server; installs it into `<root>/.venv` first when missing. Safe to call from
    /// parallel tests and processes: the install is serialised by a file lock.
    pub fn start(root: &Path) -> Result<LocalAws, LocalAwsError> {
        let python = ensure_venv(root)?;
        let port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("hawkins-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| LocalAwsError::Command {
            command: format!("create {}", log.display()),
            message: e.to_string(),
        })?;
        let err_file = log_file.try_clone().map_err(|e| LocalAwsError::Command {
            command: "dup log".into(),
            message: e.to_string(),
        })?;
        let ext = root.join(EXTENSIONS).display().to_string();
        // The wrapper exits when its parent (this process) is gone, so no server outlives a
        // test run that was killed.
        let wrapper = format!(
            "import os, sys, threading, time\n\
             parent = os.getppid()\n\
             def watch():\n\
             \x20   while os.getppid() == parent:\n\
             \x20       time.sleep(0.5)\n\
             \x20   os._exit(0)\n\
             threading.Thread(target=watch, daemon=True).start()\n\
             sys.path.insert(0, {ext:?})\n\
             import moto_sagemaker\n\
             from moto.server import main\n\
             main(['-H', '127.0.0.1', '-p', '{port}'])\n"
        );
        let child = Command::new(&python)
            .arg("-c")
            .arg(wrapper)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .map_err(|e| LocalAwsError::Command {
                command: format!("{} -c <moto server>", python.display()),
                message: e.to_string(),
            })?;
        let mut server = LocalAws {
            child,
            endpoint,
            log,
        };
        server.wait_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), LocalAwsError> {
        let started = Instant::now();
        let addr: SocketAddr = self
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .map_err(|e: std::net::AddrParseError| LocalAwsError::Command {
                command: "parse endpoint".into(),
                message: e.to_string(),
            })?;
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if answers(addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(LocalAwsError::NotReady {
            endpoint: self.endpoint.clone(),
            seconds: limit.as_secs(),
            output: std::fs::read_to_string(&self.log).unwrap_or_default(),
        })
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/data.json HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn free_port() -> Result<u16, LocalAwsError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| LocalAwsError::Command {
            command: "bind 127.0.0.1:0".into(),
            message: e.to_string(),
        })
}

/// `<root>/.venv/bin/python` with the pinned requirements installed.
pub fn ensure_venv(root: &Path) -> Result<PathBuf, LocalAwsError> {
    let venv = root.join(".venv");
    let python = venv.join("bin").join("python");
    let requirements = root.join(REQUIREMENTS);
    let wanted = std::fs::read(&requirements).map_err(|e| LocalAwsError::Command {
        command: format!("read {}", requirements.display()),
        message: e.to_string(),
    })?;
    let stamp = venv.join(".hawkins-requirements");
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        return Ok(python);
    }
    std::fs::create_dir_all(root.join("target")).ok();
    let lock_path = root.join("target").join(".venv.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| LocalAwsError::Command {
        command: format!("create {}", lock_path.display()),
        message: e.to_string(),
    })?;
    lock.lock().map_err(|e| LocalAwsError::Command {
        command: "lock".into(),
        message: e.to_string(),
    })?;
    // Another process may have finished the install while this one waited for the lock.
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    eprintln!("installing the local AWS into {} (once)...", venv.display());
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(&stamp, &wanted).map_err(|e| LocalAwsError::Command {
        command: format!("write {}", stamp.display()),
        message: e.to_string(),
    })?;
    Ok(python)
}

fn run(command: &mut Command) -> Result<(), LocalAwsError> {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|e| LocalAwsError::Command {
        command: shown.clone(),
        message: e.to_string(),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(LocalAwsError::Install {
            command: shown,
            status: status.to_string(),
        })
    }
}
