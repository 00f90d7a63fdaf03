//! The group commit's durability on SQLite, off the writer: a group commits at `synchronous = NORMAL` (its WAL frames
//! written, not synced), the writer goes on with the next transaction, and the group's callers are answered once an
//! `fsync` of the WAL file that began after their commit has returned. That is what `synchronous = FULL` does in WAL
//! mode (sync the WAL at the end of each commit; the header at a restart and the checkpoints are synced at `NORMAL`
//! too), with the wait moved out of the writer: the next group, the attempt records and the claims no longer queue
//! behind a sync, and one sync serves every commit made before it began.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::{StoreError, StoreResult};

/// Syncs one database's WAL file; cheap to share.
pub struct WalSync {
    wal: Arc<WalFile>,
    /// One sync at a time; a caller that waited here may find its commit synced already.
    syncing: tokio::sync::Mutex<()>,
    /// Tickets taken, each after a commit's writes returned.
    requested: AtomicU64,
    /// Every ticket up to this one is covered by a completed sync.
    done: AtomicU64,
    /// Syncs made (for the tests: how many commits one sync served).
    syncs: AtomicU64,
}

/// The WAL file by name, and the handle last opened on it. SQLite deletes the WAL when its last connection closes (the
/// WAL then fully copied into the database, which it syncs) and creates it again at the next one: a handle on the
/// deleted file would sync nothing that matters, so each sync checks the handle is still the file's.
struct WalFile {
    path: PathBuf,
    open: Mutex<Option<File>>,
}

impl WalFile {
    /// Syncs the file now at `path`; nothing to do when there is none (everything is in the database file).
    fn sync(&self) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let on_disk = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let current = match open.as_ref() {
            Some(f) => f.metadata().is_ok_and(|m| m.ino() == on_disk.ino() && m.dev() == on_disk.dev()),
            None => false,
        };
        if !current {
            // A file opened for reading can be synced: `fsync` writes back the file's pages, whoever dirtied them.
            *open = Some(File::open(&self.path)?);
        }
        match open.as_ref() {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

impl WalSync {
    /// For the database at `database` (its WAL is `<database>-wal`).
    pub fn new(database: &Path) -> Self {
        let mut path = PathBuf::from(database).into_os_string();
        path.push("-wal");
        WalSync {
            wal: Arc::new(WalFile { path: path.into(), open: Mutex::new(None) }),
            syncing: tokio::sync::Mutex::new(()),
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        }
    }

    /// Returns once what every commit that returned before this call wrote is on disk.
    pub async fn sync(&self) -> StoreResult<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _one = self.syncing.lock().await;
        if self.done.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket taken so far belongs to a commit whose writes returned before the sync below begins.
        let upto = self.requested.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        let synced = tokio::task::spawn_blocking(move || wal.sync())
            .await
            .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e))))?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        synced.map_err(|e| {
            tracing::error!(error = %e, "could not sync the SQLite WAL file; accepted changes are answered with an error");
            StoreError::Unavailable(sqlx::Error::Io(e))
        })?;
        self.done.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Syncs made so far.
    #[cfg(test)]
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_of(dir: &Path) -> WalSync {
        std::fs::write(dir.join("herald.db-wal"), b"frames").expect("a WAL file");
        WalSync::new(&dir.join("herald.db"))
    }

    #[tokio::test]
    async fn a_wal_deleted_and_created_again_is_opened_again_and_none_is_nothing_to_sync() {
        let dir = tempfile::tempdir().expect("a dir");
        let wal = wal_of(dir.path());
        wal.sync().await.expect("synced");
        let ino = |path: &Path| std::fs::metadata(path).expect("a file").ino();
        let path = dir.path().join("herald.db-wal");
        let opened = || wal.wal.open.lock().expect("lock").as_ref().map(|f| f.metadata().expect("fstat").ino());
        assert_eq!(opened(), Some(ino(&path)));
        std::fs::remove_file(&path).expect("deleted");
        wal.sync().await.expect("nothing to sync is no error");
        // Created again (another inode while the old one is still open here): the new one is synced.
        std::fs::write(&path, b"new frames").expect("created again");
        wal.sync().await.expect("synced");
        assert_eq!(opened(), Some(ino(&path)), "the handle follows the file");
    }

    #[tokio::test]
    async fn callers_that_arrive_during_a_sync_share_the_next_one() {
        let dir = tempfile::tempdir().expect("a dir");
        let wal = Arc::new(wal_of(dir.path()));
        wal.sync().await.expect("synced");
        assert_eq!(wal.syncs(), 1);
        // While a sync runs (the lock held here), five commits return and ask for theirs.
        let held = wal.syncing.lock().await;
        let waiting: Vec<_> = (0..5)
            .map(|_| {
                let wal = wal.clone();
                tokio::spawn(async move { wal.sync().await })
            })
            .collect();
        while wal.requested.load(Ordering::SeqCst) < 6 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for w in waiting {
            w.await.expect("joined").expect("synced");
        }
        assert_eq!(wal.syncs(), 2, "one sync for the five");
        // A caller after that gets a sync of its own: its commit may have written since.
        wal.sync().await.expect("synced");
        assert_eq!(wal.syncs(), 3);
    }
}
