//! Damage to a backup is always detected, with a specific error.

mod support;

use std::sync::OnceLock;

use covet_backup::*;
use covet_core::Secret;
use proptest::prelude::*;
use support::*;

const KEY: [u8; 32] = [0x42; 32];

fn key() -> KeySource {
    KeySource::Raw(KEY)
}

/// One encrypted and one unencrypted backup, made once.
fn fixtures() -> &'static (Vec<u8>, Vec<u8>) {
    static F: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    F.get_or_init(|| {
        block_on(async {
            let sink = MemorySink::new();
            small_backup(
                &sink,
                "enc.covet",
                Encryption::Key(key()),
                Compression::Zstd3,
            )
            .await;
            small_backup(&sink, "plain.covet", Encryption::None, Compression::Gzip(6)).await;
            (
                sink.bytes("enc.covet").unwrap(),
                sink.bytes("plain.covet").unwrap(),
            )
        })
    })
}

fn verify_bytes(bytes: Vec<u8>, key: Option<&KeySource>) -> Result<VerifyReport> {
    block_on(verify_stream(std::io::Cursor::new(bytes), key))
}

#[test]
fn intact_backups_verify() {
    let (enc, plain) = fixtures();
    let r = verify_bytes(enc.clone(), Some(&key())).unwrap();
    assert_eq!(r.manifest.tables[0].rows, 200);
    assert_eq!(r.manifest.tables[1].rows, 67);
    assert!(r.chunks > 20, "small chunks: {}", r.chunks);
    assert_eq!(r.manifest.cipher.algorithm, "aes-256-gcm");
    let r = verify_bytes(plain.clone(), None).unwrap();
    assert_eq!(r.manifest.totals.rows, 267);
    assert_eq!(r.manifest.compression.algorithm, "gzip");
}

#[test]
fn encrypted_backup_hides_its_rows() {
    let (enc, plain) = fixtures();
    let needle = "user 10 ✓".as_bytes();
    // Gzip would hide it too; the unencrypted fixture is checked
    // decompressed by verify, the encrypted one must not contain JSON names.
    assert!(!enc.windows(needle.len()).any(|w| w == needle));
    assert!(
        !enc.windows(7).any(|w| w == b"\"tables"),
        "schema is encrypted"
    );
    assert!(
        plain.windows(7).any(|w| w == b"\"tables"),
        "plain schema is readable"
    );
}

#[test]
fn wrong_or_missing_key_is_named() {
    let (enc, _) = fixtures();
    let e = verify_bytes(enc.clone(), Some(&KeySource::Raw([1; 32]))).unwrap_err();
    assert!(matches!(e, BackupError::WrongKey { .. }), "{e}");
    let e = verify_bytes(enc.clone(), None).unwrap_err();
    assert!(matches!(e, BackupError::KeyRequired { .. }), "{e}");
    let pass = KeySource::Passphrase(Secret::new("hunter2"));
    let e = verify_bytes(enc.clone(), Some(&pass)).unwrap_err();
    assert!(matches!(e, BackupError::WrongKey { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn passphrase_round_trip_and_wrong_passphrase() {
    let params = KdfParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let good = KeySource::PassphraseWith(Secret::new("correct horse"), params);
    let bytes = block_on(async {
        let sink = MemorySink::new();
        small_backup(
            &sink,
            "p.covet",
            Encryption::Key(good.clone()),
            Compression::Zstd3,
        )
        .await;
        sink.bytes("p.covet").unwrap()
    });
    let r = verify_bytes(
        bytes.clone(),
        Some(&KeySource::Passphrase(Secret::new("correct horse"))),
    )
    .unwrap();
    assert_eq!(r.manifest.cipher.kdf, "argon2id");
    let e = verify_bytes(
        bytes.clone(),
        Some(&KeySource::Passphrase(Secret::new("wrong horse"))),
    )
    .unwrap_err();
    assert!(matches!(e, BackupError::WrongKey { .. }), "{e}");
    let e = verify_bytes(bytes, Some(&key())).unwrap_err();
    assert!(matches!(e, BackupError::WrongKey { .. }), "{e}");
}

#[test]
fn edited_manifest_bytes_fail_the_last_tag() {
    for (bytes, k) in [(&fixtures().0, Some(key())), (&fixtures().1, None)] {
        let fr = frames(bytes);
        let last = fr.last().unwrap().clone();
        let mut b = bytes.clone();
        // In the unencrypted backup this byte is JSON text of the manifest.
        b[last.start + 20] ^= 0x01;
        let e = verify_bytes(b, k.as_ref()).unwrap_err();
        assert!(
            matches!(e, BackupError::ChunkAuthentication { index } if index == fr.len() as u64 - 1),
            "{e}"
        );
    }
}

#[test]
fn appended_data_is_refused() {
    let mut b = fixtures().0.clone();
    b.push(0);
    let e = verify_bytes(b, Some(&key())).unwrap_err();
    assert!(matches!(e, BackupError::TrailingData), "{e}");
}

#[test]
fn other_files_are_not_backups() {
    let e = verify_bytes(b"PGDMP\x01\x0e\x00 not ours".to_vec(), None).unwrap_err();
    assert!(matches!(e, BackupError::NotABackup), "{e}");
    let mut b = fixtures().1.clone();
    b[9] = 9; // the format version
    let e = verify_bytes(b, None).unwrap_err();
    assert!(matches!(e, BackupError::UnsupportedVersion(9)), "{e}");
}

fn is_specific_damage(e: &BackupError, pos: usize) -> bool {
    // The key id bytes (74..82) name the key: changing them reads as a
    // different key, which is its own specific error.
    e.is_damage() || ((74..82).contains(&pos) && matches!(e, BackupError::WrongKey { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_flipped_bit_is_detected(pos_seed in any::<prop::sample::Index>(), bit in 0u8..8, encrypted in any::<bool>()) {
        let (enc, plain) = fixtures();
        let (src, k) = if encrypted { (enc, Some(key())) } else { (plain, None) };
        let pos = pos_seed.index(src.len());
        let mut b = src.clone();
        b[pos] ^= 1 << bit;
        match verify_bytes(b, k.as_ref()) {
            Ok(_) => prop_assert!(false, "flip at {pos} went unnoticed"),
            Err(e) => prop_assert!(is_specific_damage(&e, pos), "flip at {pos}: {e}"),
        }
    }

    #[test]
    fn any_truncation_is_detected(len_seed in any::<prop::sample::Index>(), encrypted in any::<bool>()) {
        let (enc, plain) = fixtures();
        let (src, k) = if encrypted { (enc, Some(key())) } else { (plain, None) };
        let len = len_seed.index(src.len());
        let e = verify_bytes(src[..len].to_vec(), k.as_ref()).unwrap_err();
        if len < 8 {
            prop_assert!(matches!(e, BackupError::NotABackup), "{len}: {e}");
        } else {
            prop_assert!(matches!(e, BackupError::Truncated { .. }), "{len}: {e}");
        }
    }

    #[test]
    fn dropped_chunk_is_detected(i_seed in any::<prop::sample::Index>(), encrypted in any::<bool>()) {
        let (enc, plain) = fixtures();
        let (src, k) = if encrypted { (enc, Some(key())) } else { (plain, None) };
        let mut fr = frames(src);
        let i = i_seed.index(fr.len());
        let last = i == fr.len() - 1;
        fr.remove(i);
        let e = verify_bytes(assemble(src, &fr), k.as_ref()).unwrap_err();
        if last {
            prop_assert!(matches!(e, BackupError::Truncated { .. }), "drop last: {e}");
        } else {
            prop_assert!(matches!(e, BackupError::ChunkAuthentication { index } if index == i as u64), "drop {i}: {e}");
        }
    }

    #[test]
    fn swapped_or_repeated_chunks_are_detected(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(), encrypted in any::<bool>()) {
        let (enc, plain) = fixtures();
        let (src, k) = if encrypted { (enc, Some(key())) } else { (plain, None) };
        let fr = frames(src);
        let (i, j) = (a.index(fr.len()), b.index(fr.len()));
        let mut swapped = fr.clone();
        swapped.swap(i, j);
        if i != j {
            let e = verify_bytes(assemble(src, &swapped), k.as_ref()).unwrap_err();
            prop_assert!(matches!(e, BackupError::ChunkAuthentication { index } if index == i.min(j) as u64), "swap {i} {j}: {e}");
        }
        let mut repeated = fr.clone();
        repeated.insert(i, fr[i].clone());
        let e = verify_bytes(assemble(src, &repeated), k.as_ref()).unwrap_err();
        let last = i == fr.len() - 1;
        if last {
            prop_assert!(matches!(e, BackupError::TrailingData), "repeat last: {e}");
        } else {
            prop_assert!(matches!(e, BackupError::ChunkAuthentication { index } if index == i as u64 + 1), "repeat {i}: {e}");
        }
    }

    #[test]
    fn chunks_from_another_backup_are_refused(i_seed in any::<prop::sample::Index>()) {
        // Same key, same content, different file: a chunk spliced in from
        // the other backup fails, because each file has its own chunk key.
        let (enc, _) = fixtures();
        let other = block_on(async {
            let sink = MemorySink::new();
            small_backup(&sink, "o.covet", Encryption::Key(key()), Compression::Zstd3).await;
            sink.bytes("o.covet").unwrap()
        });
        let fr = frames(enc);
        let fo = frames(&other);
        let i = i_seed.index(fr.len().min(fo.len()));
        let mut b = enc[..fr[i].start].to_vec();
        b.extend_from_slice(&other[fo[i].clone()]);
        b.extend_from_slice(&enc[fr[i].end..]);
        let e = verify_bytes(b, Some(&key())).unwrap_err();
        prop_assert!(matches!(e, BackupError::ChunkAuthentication { index } if index == i as u64), "{e}");
    }
}
