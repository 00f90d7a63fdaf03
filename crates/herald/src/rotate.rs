//! `herald rotate-encryption-key`: reseals every stored secret with a new key (docs/OPERATIONS.md, "Secrets at
//! rest").
//!
//! With the key in the data dir: the new key is written to `encryption-key.next` first, every secret is resealed
//! with it (one transaction), then the file is renamed over `encryption-key`. A crash at any point leaves a data dir
//! whose key ring opens every secret. With keys from the configuration, the new key is printed for the operator to
//! configure (first, with the old one after it until every node has it).

use anyhow::Context;
use herald_config::{DatabaseUrl, RotateKeyConfig};
use herald_store::Sealer;

use crate::encryption_key::{self, read_key, write_key};

pub async fn rotate_encryption_key(cfg: RotateKeyConfig) -> anyhow::Result<()> {
    let _lock = match &cfg.database {
        DatabaseUrl::Sqlite { path } => Some(crate::data_dir::DatabaseLock::acquire(path)?),
        DatabaseUrl::Postgres { .. } => None,
    };
    let (key_file, next_file) = encryption_key::files(&cfg.data_dir);
    let (new_key, old_keys): ([u8; 32], Vec<[u8; 32]>) = match &cfg.encryption_keys {
        Some(keys) => (
            cfg.new_key.as_ref().map(|k| k.0).unwrap_or_else(encryption_key::generate),
            keys.iter().map(|k| k.0).collect(),
        ),
        None => {
            let current = read_key(&key_file)?.with_context(|| {
                format!("no encryption key to rotate: {} does not exist and none was given", key_file.display())
            })?;
            // A rotation that stopped before its rename may have sealed secrets with its key already: it is
            // finished with that key, never replaced by another one (which would lose it).
            let new_key = match (read_key(&next_file)?, &cfg.new_key) {
                (Some(pending), None) => pending,
                (Some(pending), Some(given)) if pending == given.0 => pending,
                (Some(_), Some(_)) => anyhow::bail!(
                    "{} holds the key of an unfinished rotation: run rotate-encryption-key without --new-key to \
                     finish it first",
                    next_file.display()
                ),
                (None, given) => {
                    let key = given.as_ref().map(|k| k.0).unwrap_or_else(encryption_key::generate);
                    write_key(&next_file, &key)?;
                    key
                }
            };
            (new_key, vec![current])
        }
    };
    let mut ring = vec![new_key];
    ring.extend(old_keys.iter().filter(|k| **k != new_key));
    let store = crate::open_store(&cfg.database, &cfg.data_dir, false, Sealer::new(&ring)).await?;
    let resealed = store.reseal_secrets().await.context("cannot reseal the stored secrets")?;
    if cfg.encryption_keys.is_none() {
        std::fs::rename(&next_file, &key_file)
            .with_context(|| format!("cannot rename {} to {}", next_file.display(), key_file.display()))?;
        encryption_key::sync_dir(&cfg.data_dir)?;
        println!("herald: resealed {resealed} secret(s); the new key is in {}", key_file.display());
    } else {
        println!(
            "herald: resealed {resealed} secret(s) with the new key {}. Configure it first in --encryption-key / \
             HERALD_ENCRYPTION_KEY on every node (\"NEW,OLD\" until all have it, then NEW alone).",
            hex::encode(new_key)
        );
    }
    Ok(())
}
