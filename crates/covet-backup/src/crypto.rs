//! Keys, key derivation and the per-chunk sealing of the stream.
//!
//! A backup's chunks are sealed with AES-256-GCM under a key derived for that
//! one file (HKDF-SHA-256 of the master key and the header's random file
//! nonce), so the 96-bit nonce can be a plain counter: the chunk's index and
//! a last-chunk flag. The associated data of every chunk is the SHA-256 of
//! the header, the index and the flag, so that a chunk moved, dropped,
//! repeated, or taken from another backup fails its tag, and a stream cut
//! after any chunk but the flagged last one is seen as truncated.

use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use covet_core::Secret;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use crate::error::{BackupError, Result};

/// Argon2id parameters for passphrase keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): strong enough
    /// for a passphrase, small enough to keep a restore's memory bounded.
    fn default() -> Self {
        KdfParams {
            m_cost: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Refuses parameters no writer would choose, so a damaged header cannot
    /// make a reader allocate gigabytes.
    pub(crate) fn check(self) -> Result<Self> {
        if !(8..=1024 * 1024).contains(&self.m_cost)
            || !(1..=64).contains(&self.t_cost)
            || !(1..=16).contains(&self.p_cost)
        {
            return Err(BackupError::BadHeader(format!(
                "Argon2id parameters out of range (m={} KiB, t={}, p={})",
                self.m_cost, self.t_cost, self.p_cost
            )));
        }
        Ok(self)
    }
}

/// Where the encryption key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A key file: 32 raw bytes, or 64 hexadecimal digits (whitespace around
    /// them is ignored). See [`generate_key_file`].
    File(PathBuf),
    /// A passphrase, stretched with Argon2id (salt and parameters are kept
    /// in the backup's header).
    Passphrase(Secret),
    /// A passphrase with explicit Argon2id parameters for new backups.
    PassphraseWith(Secret, KdfParams),
    /// A raw 256-bit key held by the caller.
    Raw([u8; 32]),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "KeySource::File({})", p.display()),
            KeySource::Passphrase(_) | KeySource::PassphraseWith(..) => {
                f.write_str("KeySource::Passphrase(***)")
            }
            KeySource::Raw(_) => f.write_str("KeySource::Raw(***)"),
        }
    }
}

/// How the master key was obtained, as recorded in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kdf {
    None = 0,
    KeyFile = 1,
    Argon2id = 2,
}

/// A master key. `Debug` shows only its id.
#[derive(Clone)]
pub(crate) struct MasterKey {
    bytes: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id {})", self.id_hex())
    }
}

impl MasterKey {
    /// Wraps 32 key bytes.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey { bytes }
    }

    /// The key id: the first 8 bytes of a domain-separated SHA-256 of the
    /// key. It identifies the key in manifests and errors; it cannot be
    /// turned back into the key.
    pub(crate) fn id(&self) -> [u8; 8] {
        let mut h = Sha256::new();
        h.update(b"covet-backup key id v1");
        h.update(self.bytes);
        let d = h.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        id
    }

    /// The key id in hexadecimal.
    pub(crate) fn id_hex(&self) -> String {
        hex(&self.id())
    }

    pub(crate) fn file_cipher(&self, file_nonce: &[u8; 32]) -> Aes256Gcm {
        let hk = Hkdf::<Sha256>::new(Some(file_nonce), &self.bytes);
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA-256's limit of 8160, so this holds.
        hk.expand(b"covet-backup v1 aes-256-gcm chunk key", &mut okm)
            .unwrap_or_else(|_| unreachable!("32-byte HKDF output is always valid"));
        Aes256Gcm::new(&okm.into())
    }
}

/// Reads a key file: 32 raw bytes or 64 hex digits.
pub(crate) fn read_key_file(path: &Path) -> Result<MasterKey> {
    let shown = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| BackupError::BadKeyFile {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let bad = |reason: &str| BackupError::BadKeyFile {
        path: shown.clone(),
        reason: reason.to_owned(),
    };
    if data.len() == 32 {
        let mut k = [0u8; 32];
        k.copy_from_slice(&data);
        return Ok(MasterKey::from_bytes(k));
    }
    let text = std::str::from_utf8(&data)
        .map_err(|_| bad("expected 32 raw bytes or 64 hexadecimal digits"))?
        .trim();
    if text.len() != 64 {
        return Err(bad("expected 32 raw bytes or 64 hexadecimal digits"));
    }
    let mut k = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| bad("not hexadecimal"))?;
        k[i] = u8::from_str_radix(s, 16).map_err(|_| bad("not hexadecimal"))?;
    }
    Ok(MasterKey::from_bytes(k))
}

/// Writes a new random key file (64 hex digits) that only its owner can
/// read, refusing to overwrite an existing file. Returns the key id.
pub fn generate_key_file(path: &Path) -> Result<String> {
    let key: [u8; 32] = rand::random();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| BackupError::io(format!("creating key file {}", path.display()), e))?;
    use std::io::Write;
    writeln!(f, "{}", hex(&key))
        .and_then(|()| f.sync_all())
        .map_err(|e| BackupError::io(format!("writing key file {}", path.display()), e))?;
    Ok(MasterKey::from_bytes(key).id_hex())
}

pub(crate) fn derive_passphrase(
    pass: &Secret,
    salt: &[u8; 16],
    params: KdfParams,
) -> Result<MasterKey> {
    let params = params.check()?;
    let p = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| BackupError::BadHeader(format!("Argon2id parameters: {e}")))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = [0u8; 32];
    a.hash_password_into(pass.expose().as_bytes(), salt, &mut out)
        .map_err(|e| BackupError::Config(format!("Argon2id: {e}")))?;
    Ok(MasterKey::from_bytes(out))
}

/// Seals and opens chunks. Without a key, chunks carry a truncated SHA-256
/// over the same associated data instead of a tag: accidental damage and
/// reordering are still caught, but nothing is secret or authenticated.
pub(crate) struct Sealer {
    cipher: Option<Box<Aes256Gcm>>,
    header_hash: [u8; 32],
}

/// Bytes added to every chunk body.
pub(crate) const TAG_LEN: usize = 16;

impl Sealer {
    pub(crate) fn new(cipher: Option<Aes256Gcm>, header: &[u8]) -> Self {
        let header_hash: [u8; 32] = Sha256::digest(header).into();
        Sealer {
            cipher: cipher.map(Box::new),
            header_hash,
        }
    }

    fn aad(&self, index: u64, last: bool) -> [u8; 41] {
        let mut aad = [0u8; 41];
        aad[..32].copy_from_slice(&self.header_hash);
        aad[32..40].copy_from_slice(&index.to_be_bytes());
        aad[40] = u8::from(last);
        aad
    }

    fn nonce(index: u64, last: bool) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        n
    }

    fn integrity_tag(&self, index: u64, last: bool, plain: &[u8]) -> [u8; TAG_LEN] {
        let mut h = Sha256::new();
        h.update(b"covet-backup v1 integrity");
        h.update(self.aad(index, last));
        h.update(plain);
        let d = h.finalize();
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&d[..TAG_LEN]);
        t
    }

    pub(crate) fn seal(&self, index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
        match &self.cipher {
            Some(c) => {
                let aad = self.aad(index, last);
                let nonce = Self::nonce(index, last);
                // AES-GCM encryption fails only beyond 64 GiB per message;
                // chunks are bounded far below that.
                c.encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: plain,
                        aad: &aad,
                    },
                )
                .unwrap_or_else(|_| unreachable!("chunk within AES-GCM limits"))
            }
            None => {
                let mut out = Vec::with_capacity(plain.len() + TAG_LEN);
                out.extend_from_slice(plain);
                out.extend_from_slice(&self.integrity_tag(index, last, plain));
                out
            }
        }
    }

    pub(crate) fn open(&self, index: u64, last: bool, body: &[u8]) -> Result<Vec<u8>> {
        let fail = || BackupError::ChunkAuthentication { index };
        if body.len() < TAG_LEN {
            return Err(fail());
        }
        match &self.cipher {
            Some(c) => {
                let aad = self.aad(index, last);
                let nonce = Self::nonce(index, last);
                c.decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: body,
                        aad: &aad,
                    },
                )
                .map_err(|_| fail())
            }
            None => {
                let (plain, tag) = body.split_at(body.len() - TAG_LEN);
                let want = self.integrity_tag(index, last, plain);
                // Not secret: a plain comparison is fine for an integrity check.
                if want.as_slice() == tag {
                    Ok(plain.to_vec())
                } else {
                    Err(fail())
                }
            }
        }
    }
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey::from_bytes([7; 32]);
        let s = Sealer::new(Some(key.file_cipher(&[1; 32])), b"header");
        let body = s.seal(3, false, b"hello");
        assert_eq!(s.open(3, false, &body).unwrap(), b"hello");
        assert!(s.open(4, false, &body).is_err(), "moved chunk");
        assert!(s.open(3, true, &body).is_err(), "last flag");
        let other = Sealer::new(Some(key.file_cipher(&[1; 32])), b"headex");
        assert!(other.open(3, false, &body).is_err(), "other header");
        let other_file = Sealer::new(Some(key.file_cipher(&[2; 32])), b"header");
        assert!(other_file.open(3, false, &body).is_err(), "other file");
    }

    #[test]
    fn integrity_mode_catches_flips() {
        let s = Sealer::new(None, b"h");
        let mut body = s.seal(0, true, b"data");
        assert_eq!(s.open(0, true, &body).unwrap(), b"data");
        body[1] ^= 1;
        assert!(s.open(0, true, &body).is_err());
    }

    #[test]
    fn key_files_hex_and_raw() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let id = generate_key_file(&p).unwrap();
        assert_eq!(read_key_file(&p).unwrap().id_hex(), id);
        assert!(generate_key_file(&p).is_err(), "never overwrites");
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [9u8; 32]).unwrap();
        assert_eq!(
            read_key_file(&raw).unwrap().id(),
            MasterKey::from_bytes([9; 32]).id()
        );
        std::fs::write(&raw, "short").unwrap();
        let e = read_key_file(&raw).unwrap_err();
        assert!(matches!(e, BackupError::BadKeyFile { .. }), "{e}");
        assert!(!format!("{:?}", MasterKey::from_bytes([9; 32])).contains("0909"));
    }
}
