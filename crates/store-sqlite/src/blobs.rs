//! Attachment bytes as files beside the database, addressed by their
//! SHA-256: `<dir>/ab/cd/abcd…`. Written atomically (temp file, fsync,
//! rename), so a crash never leaves a partial file under a hash.

use std::path::{Path, PathBuf};

use citygrid_store::{Result, StoreError};

/// The attachment directory.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    dir: PathBuf,
}

/// Whether `s` is a lowercase hex SHA-256, so it is safe as a file name.
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("attachment file: {e}"))
}

impl BlobDir {
    pub(crate) fn new(dir: PathBuf) -> BlobDir {
        BlobDir { dir }
    }

    fn path(&self, sha: &str) -> Result<PathBuf> {
        if !is_sha256(sha) {
            return Err(StoreError::Invalid(format!("{sha:?} is not a content hash")));
        }
        Ok(self.dir.join(&sha[..2]).join(&sha[2..4]).join(sha))
    }

    pub(crate) async fn put(&self, sha: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(sha)?;
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.dir.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{}.tmp", std::process::id() as u64 ^ nanos()));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(io)
    }

    pub(crate) async fn get(&self, sha: &str) -> Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(sha)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

/// A temp-file suffix unlikely to collide between concurrent writers.
fn nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
