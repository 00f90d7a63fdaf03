//! The data dir on disk: created private to Herald's user (mode 0700), the SQLite database file private too (0600,
//! which SQLite gives its `-wal` and `-shm` files as well), and held by one process at a time.
//!
//! Two `herald serve` on one SQLite database would each release the other's claims at start and deliver the same
//! deliveries twice, so a process takes an exclusive `flock` on `<database>.lock` before it opens the database and
//! keeps it until it exits (the kernel drops it when the process dies, `kill -9` included).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Creates `dir` (and its parents) with mode 0700 when it does not exist yet. An existing directory keeps the mode
/// its owner gave it (docs/OPERATIONS.md asks for 0700).
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).with_context(|| format!("cannot create data dir {}", dir.display()))?;
    }
    Ok(())
}

/// Creates the SQLite database file with mode 0600 when absent, and takes group and other permissions away from
/// an existing one (and from its `-wal` and `-shm` files): it holds webhook secrets and signing keys.
pub fn make_database_private(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(db).with_context(|| format!("cannot create {}", db.display()))?;
    }
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if path.exists() && loose_mode(&path).is_some() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
    }
    Ok(())
}

/// The mode of `path` when group or others have any permission on it.
fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// An exclusive lock on a database, held until dropped.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Herald process{} is using {} (its lock file is {}); stop it first", pid_text(.pid), .database.display(), .lock.display())]
    Held { pid: Option<u32>, database: PathBuf, lock: PathBuf },
    #[error("cannot lock {}", .lock.display())]
    Io {
        lock: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn pid_text(pid: &Option<u32>) -> String {
    pid.map(|p| format!(" (PID {p})")).unwrap_or_default()
}

impl DatabaseLock {
    /// Takes the lock of the SQLite database `db` (the file `<db>.lock`, mode 0600), writing this process's id in
    /// it; `Held` with the holder's id when another process has it.
    pub fn acquire(db: &Path) -> Result<Self, LockError> {
        let lock = PathBuf::from(format!("{}.lock", db.display()));
        let io = |source| LockError::Io { lock: lock.clone(), source };
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&lock).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text); // Best effort: the holder may be writing it right now.
                return Err(LockError::Held { pid: text.trim().parse().ok(), database: db.to_path_buf(), lock });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).and_then(|_| file.flush()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("herald.db");
        let first = DatabaseLock::acquire(&db).unwrap();
        let err = DatabaseLock::acquire(&db).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("PID {}", std::process::id())), "{text}");
        assert!(matches!(err, LockError::Held { .. }));
        drop(first);
        DatabaseLock::acquire(&db).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_data_dir_and_database_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        create_private_dir(&data).unwrap();
        assert_eq!(fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        let db = data.join("herald.db");
        make_database_private(&db).unwrap();
        assert_eq!(fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        make_database_private(&db).unwrap();
        assert_eq!(fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600, "an existing file is tightened");
    }
}
