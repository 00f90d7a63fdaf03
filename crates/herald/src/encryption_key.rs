//! The key ring that seals secrets at rest (see `herald_store::Sealer`): given in the configuration, or kept in the
//! data dir, generated at first start (`encryption-key`, 64 hex digits, mode 0600).
//!
//! `herald rotate-encryption-key` writes the new key to `encryption-key.next` before it reseals anything and renames
//! it over `encryption-key` after: a process that starts in between opens secrets sealed with either.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use herald_config::EncryptionKey;
use rand::RngCore;

pub const FILE_NAME: &str = "encryption-key";
pub const NEXT_FILE_NAME: &str = "encryption-key.next";

/// Where a key ring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The configuration (`--encryption-key`, `HERALD_ENCRYPTION_KEY`, the config file).
    Config,
    /// The data dir's file; `generated` when it was created now.
    DataDir { generated: bool },
}

/// The key ring to use: the configured keys, or the data dir's key (generated when missing) followed by a pending
/// rotation's next key, if one was left.
pub fn resolve(given: Option<&[EncryptionKey]>, data_dir: &Path) -> anyhow::Result<(Vec<[u8; 32]>, KeySource)> {
    if let Some(keys) = given {
        return Ok((keys.iter().map(|k| k.0).collect(), KeySource::Config));
    }
    let path = data_dir.join(FILE_NAME);
    let (current, generated) = match read_key(&path)? {
        Some(key) => (key, false),
        None => {
            crate::data_dir::create_private_dir(data_dir)?;
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            write_key(&path, &key)?;
            (key, true)
        }
    };
    let mut ring = vec![current];
    ring.extend(read_key(&data_dir.join(NEXT_FILE_NAME))?);
    Ok((ring, KeySource::DataDir { generated }))
}

/// A fresh random key.
pub fn generate() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

/// The key in `path`, or `None` when the file does not exist.
pub fn read_key(path: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let key: EncryptionKey = text.parse().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(Some(key.0))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `key` as hex to `path` (mode 0600), atomically: a temporary file beside it, synced, renamed over it, and
/// the directory synced, so that a crash leaves the old file or the new one, never a torn one.
pub fn write_key(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(hex::encode(key).as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir)
}

/// Makes the renames in `dir` durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", dir.display()))
}

/// The data dir's key files.
pub fn files(data_dir: &Path) -> (PathBuf, PathBuf) {
    (data_dir.join(FILE_NAME), data_dir.join(NEXT_FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_generated_once_with_mode_0600_and_a_pending_next_key_joins_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let (ring, source) = resolve(None, dir.path()).unwrap();
        assert_eq!((ring.len(), source), (1, KeySource::DataDir { generated: true }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = resolve(None, dir.path()).unwrap();
        assert_eq!((again.clone(), source), (ring.clone(), KeySource::DataDir { generated: false }));
        write_key(&dir.path().join(NEXT_FILE_NAME), &[5; 32]).unwrap();
        let (with_next, _) = resolve(None, dir.path()).unwrap();
        assert_eq!(with_next, vec![ring[0], [5; 32]]);
        let given = [EncryptionKey([1; 32])];
        assert_eq!(resolve(Some(&given), dir.path()).unwrap(), (vec![[1; 32]], KeySource::Config));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "not hex").unwrap();
        let err = resolve(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains(FILE_NAME), "{err}");
    }
}
