//! Attachments on disk, addressed by the SHA-256 of their bytes:
//! `<dir>/ab/cd/abcd…`. The same photo uploaded twice is stored once, and a
//! hash in a timeline entry names exactly one content forever.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The types accepted, detected from the bytes rather than trusted from headers.
pub const ALLOWED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"];

/// Detects a supported type from the first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'%', b'P', b'D', b'F', b'-', ..] => Some("application/pdf"),
        _ => None,
    }
}

/// Whether `s` looks like a hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The attachment directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    /// Blobs under `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Blobs {
        Blobs { dir }
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(&sha[2..4]).join(sha)
    }

    /// Stores `bytes`, returning their hash. Writing is atomic (temp file,
    /// fsync, rename), so a crash never leaves a partial file under a hash.
    pub async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String> {
        let sha = hex::encode(Sha256::digest(&bytes));
        let path = self.path(&sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(sha);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.dir.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{}.tmp", rand::random::<u64>()));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(sha)
    }

    /// Reads an attachment's bytes.
    pub async fn get(&self, sha: &str) -> std::io::Result<Vec<u8>> {
        if !is_sha256(sha) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a content hash"));
        }
        tokio::fs::read(self.path(sha)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[tokio::test]
    async fn content_addressed_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let b = Blobs::new(dir.path().to_owned());
        let h1 = b.put(b"\x89PNG\r\n\x1a\nhello".to_vec()).await.unwrap();
        let h2 = b.put(b"\x89PNG\r\n\x1a\nhello".to_vec()).await.unwrap();
        assert_eq!(h1, h2);
        assert!(is_sha256(&h1));
        assert_eq!(b.get(&h1).await.unwrap(), b"\x89PNG\r\n\x1a\nhello");
        assert!(b.get("../../etc/passwd").await.is_err());
    }
}
