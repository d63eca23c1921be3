//! Attachments are addressed by the SHA-256 of their bytes and kept by the
//! store (`BlobStore`), where every server process reaches them. The same
//! photo uploaded twice is stored once, and a hash in a timeline entry names
//! exactly one content forever. Here: what the server checks before storing.

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

/// The SHA-256 of `bytes`, hex, computed on a blocking thread: a large
/// upload is tens of milliseconds of hashing an async worker must not spend.
pub async fn content_hash(bytes: axum::body::Bytes) -> String {
    let hash = move || hex::encode(Sha256::digest(&bytes));
    match tokio::task::spawn_blocking(hash.clone()).await {
        Ok(h) => h,
        // The pool is shutting down: hash here rather than fail the upload.
        Err(_) => hash(),
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
    async fn hashes_are_lowercase_hex_sha256() {
        let h = content_hash(axum::body::Bytes::from_static(b"abc")).await;
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_sha256(&h));
        assert!(!is_sha256("../../etc/passwd"));
    }
}
