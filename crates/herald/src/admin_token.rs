//! The admin token: given in the configuration, or generated at first start and kept in the data dir (mode 0600).

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;

pub const FILE_NAME: &str = "admin-token";

/// The admin token to use, and whether it was generated now (and so must be printed once).
pub fn resolve(given: Option<&str>, data_dir: &Path) -> anyhow::Result<(String, bool)> {
    if let Some(t) = given {
        return Ok((t.to_string(), false));
    }
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        let token = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let token = token.trim().to_string();
        anyhow::ensure!(!token.is_empty(), "{} is empty; delete it to generate a new token", path.display());
        return Ok((token, false));
    }
    crate::data_dir::create_private_dir(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("herald_admin_{}", URL_SAFE_NO_PAD.encode(bytes));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((token, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_is_stored_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (t1, fresh) = resolve(None, dir.path()).unwrap();
        assert!(fresh);
        assert!(t1.len() > 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (t2, fresh) = resolve(None, dir.path()).unwrap();
        assert_eq!((t1.as_str(), fresh), (t2.as_str(), false));
        let (t3, fresh) = resolve(Some("given-token-123456"), dir.path()).unwrap();
        assert_eq!((t3.as_str(), fresh), ("given-token-123456", false));
    }
}
