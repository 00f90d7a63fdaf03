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
    let new_key = cfg.new_key.as_ref().map(|k| k.0).unwrap_or_else(encryption_key::generate);
    let (key_file, next_file) = encryption_key::files(&cfg.data_dir);
    let old_keys: Vec<[u8; 32]> = match &cfg.encryption_keys {
        Some(keys) => keys.iter().map(|k| k.0).collect(),
        None => {
            let current = read_key(&key_file)?.with_context(|| {
                format!("no encryption key to rotate: {} does not exist and none was given", key_file.display())
            })?;
            // A rotation that stopped before its rename may have sealed some secrets with its key already.
            let unfinished = read_key(&next_file)?;
            write_key(&next_file, &new_key, false)?;
            std::iter::once(current).chain(unfinished).collect()
        }
    };
    let mut ring = vec![new_key];
    ring.extend(old_keys.iter().filter(|k| **k != new_key));
    let store = crate::open_store(&cfg.database, &cfg.data_dir, false, Sealer::new(&ring)).await?;
    let resealed = store.reseal_secrets().await.context("cannot reseal the stored secrets")?;
    if cfg.encryption_keys.is_none() {
        std::fs::rename(&next_file, &key_file)
            .with_context(|| format!("cannot rename {} to {}", next_file.display(), key_file.display()))?;
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
