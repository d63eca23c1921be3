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

impl BlobDir {
    /// Whether bytes are stored under `sha`.
    pub(crate) async fn exists(&self, sha: &str) -> Result<bool> {
        tokio::fs::try_exists(self.path(sha)?).await.map_err(io)
    }

    /// Removes the bytes under `sha`, if any (undoing an import that failed).
    pub(crate) async fn remove(&self, sha: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(sha)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Up to `limit` stored hashes after `after`, in order. The fan-out
    /// directories are walked in order too and those wholly before `after`
    /// skipped, so a page costs about its own size, not the whole directory's.
    pub(crate) async fn list_after(&self, after: Option<String>, limit: usize) -> Result<Vec<String>> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || list_after(&dir, after.as_deref().unwrap_or(""), limit))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .map_err(io)
    }
}

/// The names in `dir` that `keep` accepts, sorted; none if it does not exist.
fn sorted_names(dir: &Path, keep: impl Fn(&str) -> bool) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut names = vec![];
    for entry in entries {
        if let Ok(name) = entry?.file_name().into_string()
            && keep(&name)
        {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

fn list_after(dir: &Path, after: &str, limit: usize) -> std::io::Result<Vec<String>> {
    let hex2 = |n: &str| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    // A directory holds hashes starting with its prefix; it can hold some
    // after `after` unless the prefix sorts before `after`'s own.
    let (p1, p2) = (after.get(..2).unwrap_or(after), after.get(..4).unwrap_or(after));
    let mut out = vec![];
    if limit == 0 {
        return Ok(out);
    }
    for d1 in sorted_names(dir, |n| hex2(n) && n >= p1)? {
        for d2 in sorted_names(&dir.join(&d1), |n| hex2(n) && format!("{d1}{n}").as_str() >= p2)? {
            let prefix = format!("{d1}{d2}");
            for f in sorted_names(&dir.join(&d1).join(&d2), |n| is_sha256(n) && n.starts_with(&prefix) && n > after)? {
                out.push(f);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// A temp-file suffix unlikely to collide between concurrent writers.
fn nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
