//! The keyring for personal data: AEAD encryption of reporter contacts,
//! keyed blind indexes for exact-match search, and the secret that derives
//! CSRF tokens.
//!
//! The keyring is a JSON file (mode 0600) created on first start:
//! `{"active":"k1","keys":{"k1":"<base64 32 bytes>"},"index_key":"…","session_secret":"…"}`.
//! Rotation: `citygrid keys rotate` adds a new key and makes it active; old
//! keys stay so existing ciphertexts still open (each names its key id).
//! The index key is never rotated in place: changing it would orphan every
//! blind index (see docs/security.md).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use citygrid_domain::personal::Contact;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// Associated data binding ciphertexts to their purpose.
const CONTACT_AAD: &[u8] = b"citygrid/contact/v1";

/// Associated data of a device's protocol secret (an HJ 212 `PW`).
const DEVICE_SECRET_AAD: &[u8] = b"citygrid/device-secret/v1";

/// Why the vault failed.
#[derive(Debug, Error)]
pub enum VaultError {
    /// The key file cannot be read or written.
    #[error("key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The key file's content is unusable.
    #[error("key file is invalid: {0}")]
    Invalid(String),
    /// A ciphertext names a key the ring does not have, or does not open.
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    active: String,
    keys: BTreeMap<String, String>,
    index_key: String,
    session_secret: String,
}

/// The loaded keyring.
pub struct Vault {
    active: String,
    ciphers: BTreeMap<String, XChaCha20Poly1305>,
    index_key: [u8; 32],
    session_secret: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Vault").field("active", &self.active).field("keys", &self.ciphers.len()).finish()
    }
}

fn random32() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    k
}

fn decode32(what: &str, s: &str) -> Result<[u8; 32], VaultError> {
    let v = STANDARD.decode(s).map_err(|e| VaultError::Invalid(format!("{what}: {e}")))?;
    v.try_into().map_err(|_| VaultError::Invalid(format!("{what} must be 32 bytes")))
}

impl Vault {
    /// Opens the key file at `path`, creating it with fresh keys if absent.
    pub fn open_or_create(path: &Path) -> Result<Vault, VaultError> {
        let err = |reason: String| VaultError::File { path: path.display().to_string(), reason };
        if !path.exists() {
            let file = KeyFile {
                active: "k1".into(),
                keys: BTreeMap::from([("k1".to_owned(), STANDARD.encode(random32()))]),
                index_key: STANDARD.encode(random32()),
                session_secret: STANDARD.encode(random32()),
            };
            write_key_file(path, &file).map_err(err)?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| VaultError::Invalid(e.to_string()))?;
        Vault::from_file(file)
    }

    /// A vault with fresh random keys, kept only in memory (tests, benchmarks).
    pub fn ephemeral() -> Vault {
        let mut ciphers = BTreeMap::new();
        ciphers.insert("k1".to_owned(), XChaCha20Poly1305::new(&random32().into()));
        Vault { active: "k1".into(), ciphers, index_key: random32(), session_secret: random32() }
    }

    fn from_file(file: KeyFile) -> Result<Vault, VaultError> {
        let mut ciphers = BTreeMap::new();
        for (id, k) in &file.keys {
            if id.is_empty() || id.contains(':') {
                return Err(VaultError::Invalid(format!("key id {id:?} must be non-empty without ':'")));
            }
            ciphers.insert(id.clone(), XChaCha20Poly1305::new(&decode32(id, k)?.into()));
        }
        if !ciphers.contains_key(&file.active) {
            return Err(VaultError::Invalid(format!("active key {:?} is not in the ring", file.active)));
        }
        Ok(Vault {
            active: file.active,
            ciphers,
            index_key: decode32("index_key", &file.index_key)?,
            session_secret: decode32("session_secret", &file.session_secret)?,
        })
    }

    /// Adds a new key to the key file at `path` and makes it active; returns its id.
    pub fn rotate(path: &Path) -> Result<String, VaultError> {
        let err = |reason: String| VaultError::File { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut file: KeyFile = serde_json::from_str(&text).map_err(|e| VaultError::Invalid(e.to_string()))?;
        let id = (1..).map(|n| format!("k{n}")).find(|k| !file.keys.contains_key(k)).unwrap_or_default();
        file.keys.insert(id.clone(), STANDARD.encode(random32()));
        file.active = id.clone();
        write_key_file(path, &file).map_err(err)?;
        Ok(id)
    }

    /// Encrypts a contact under the active key: `keyid:base64(nonce‖ciphertext)`.
    pub fn seal(&self, contact: &Contact) -> Result<String, VaultError> {
        let plain = serde_json::to_vec(contact).map_err(|e| VaultError::Invalid(e.to_string()))?;
        self.seal_bytes(&plain, CONTACT_AAD)
    }

    /// Decrypts what [`Vault::seal`] produced, with whichever key it names.
    pub fn open(&self, sealed: &str) -> Result<Contact, VaultError> {
        let plain = self.open_bytes(sealed, CONTACT_AAD)?;
        serde_json::from_slice(&plain).map_err(|e| VaultError::Decrypt(e.to_string()))
    }

    /// Encrypts a device's protocol secret (an HJ 212 `PW`) like a contact,
    /// bound to that purpose: a sealed contact does not open as a secret.
    pub fn seal_secret(&self, secret: &str) -> Result<String, VaultError> {
        self.seal_bytes(secret.as_bytes(), DEVICE_SECRET_AAD)
    }

    /// Decrypts what [`Vault::seal_secret`] produced.
    pub fn open_secret(&self, sealed: &str) -> Result<String, VaultError> {
        String::from_utf8(self.open_bytes(sealed, DEVICE_SECRET_AAD)?)
            .map_err(|_| VaultError::Decrypt("not UTF-8".into()))
    }

    fn seal_bytes(&self, plain: &[u8], aad: &[u8]) -> Result<String, VaultError> {
        let cipher = self.ciphers.get(&self.active).ok_or_else(|| VaultError::Invalid("no active key".into()))?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
            .map_err(|_| VaultError::Invalid("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{}:{}", self.active, URL_SAFE_NO_PAD.encode(out)))
    }

    fn open_bytes(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let (id, body) = sealed.split_once(':').ok_or_else(|| VaultError::Decrypt("no key id".into()))?;
        let cipher = self.ciphers.get(id).ok_or_else(|| VaultError::Decrypt(format!("unknown key {id:?}")))?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| VaultError::Decrypt("bad encoding".into()))?;
        if raw.len() < 24 {
            return Err(VaultError::Decrypt("too short".into()));
        }
        let (nonce, ct) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| VaultError::Decrypt("bad nonce".into()))?;
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| VaultError::Decrypt("authentication failed".into()))
    }

    /// The keyed blind index of a normalised value of some kind (`phone`, `id`).
    pub fn blind_index(&self, kind: &str, normalized: &str) -> String {
        self.mac(&self.index_key, &[kind.as_bytes(), b":", normalized.as_bytes()])
    }

    /// The CSRF token bound to a session.
    pub fn csrf_token(&self, session_token_hash: &str) -> String {
        self.mac(&self.session_secret, &[b"csrf:", session_token_hash.as_bytes()])
    }

    fn mac(&self, key: &[u8; 32], parts: &[&[u8]]) -> String {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return String::new() };
        for p in parts {
            m.update(p);
        }
        hex::encode(&m.finalize().into_bytes()[..16])
    }
}

fn write_key_file(path: &Path, file: &KeyFile) -> Result<(), String> {
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let tmp = path.with_extension("tmp");
    write_private(&tmp, text.as_bytes()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact { name: Some("张三".into()), phone: Some("13812345678".into()), id_number: None }
    }

    #[test]
    fn seal_and_open_round_trip_and_tampering_is_detected() {
        let v = Vault::ephemeral();
        let sealed = v.seal(&contact()).unwrap();
        assert!(!sealed.contains("1381234"), "no plaintext in the ciphertext");
        assert_eq!(v.open(&sealed).unwrap(), contact());
        let mut bad = sealed.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(v.open(&bad).is_err());
        assert!(Vault::ephemeral().open(&sealed).is_err(), "another key cannot open it");
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let v1 = Vault::open_or_create(&path).unwrap();
        let old = v1.seal(&contact()).unwrap();
        assert_eq!(Vault::rotate(&path).unwrap(), "k2");
        let v2 = Vault::open_or_create(&path).unwrap();
        assert!(v2.seal(&contact()).unwrap().starts_with("k2:"));
        assert_eq!(v2.open(&old).unwrap(), contact());
        assert_eq!(v1.blind_index("phone", "13812345678"), v2.blind_index("phone", "13812345678"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn secrets_are_sealed_for_their_purpose() {
        let v = Vault::ephemeral();
        let sealed = v.seal_secret("100000").unwrap();
        assert!(!sealed.contains("100000"));
        assert_eq!(v.open_secret(&sealed).unwrap(), "100000");
        assert!(v.open(&sealed).is_err(), "a secret does not open as a contact");
        assert!(v.open_secret(&v.seal(&contact()).unwrap()).is_err(), "nor a contact as a secret");
    }

    #[test]
    fn blind_indexes_are_keyed() {
        let (a, b) = (Vault::ephemeral(), Vault::ephemeral());
        assert_eq!(a.blind_index("phone", "1"), a.blind_index("phone", "1"));
        assert_ne!(a.blind_index("phone", "1"), b.blind_index("phone", "1"));
        assert_ne!(a.blind_index("phone", "1"), a.blind_index("id", "1"));
    }
}
