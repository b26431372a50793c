//! A directory of the test's own under the system's temporary one,
//! removed with what is in it when dropped, so a test that fails half-way
//! leaves nothing behind either.

use std::fs;
use std::path::{Path, PathBuf};

/// A scratch directory, named after its test and this process; removed
/// when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `echo-reactor-NAME-PID` under the temporary directory
    /// (emptied first, should an earlier run have left one).
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("echo-reactor-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The path of `file` in it.
    pub fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// The path of `file` in it, as an argument.
    pub fn path(&self, file: &str) -> String {
        self.join(file).to_str().expect("a UTF-8 path").into()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
