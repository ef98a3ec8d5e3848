//! The code cache: machine code that Cranelift compiled for a function,
//! kept on disk and used again wherever the same Cranelift IR is compiled
//! for the same machine, so that running a program a second time skips
//! the compiler (which is most of a short run: `nbody.mir`'s six functions
//! take 5 ms).
//!
//! Cranelift's incremental cache decides what is the same: an entry's key
//! is a SHA-256 of the function's IR (without its name and those of what it
//! calls, which are resolved again on use), the target, every ISA and
//! compiler flag and Cranelift's version. What is stored is Cranelift's
//! serialized result, so code from the cache is the code the compiler
//! would produce. The translation to Cranelift IR still runs every time
//! (it also builds the tables the code reads): a change to the translator
//! changes the IR, and so the key.
//!
//! An entry is a file named by its key, written whole and renamed into
//! place, so that concurrent runs see an entry complete or not at all.
//! It starts with a SHA-256 of its key and the rest, checked on every
//! read: a damaged entry, or another key's moved there, is a miss, never
//! code that runs. Only a regular file is read (a named pipe would block
//! the run), and one of at most [`MAX_ENTRY`] bytes. Entries are spread
//! over 256 directories by the key's first byte; one that grows past
//! [`SHARD_ENTRIES`] loses the half used longest ago (a read marks an entry
//! used). Failing to read or write is a miss: the cache never makes a run
//! fail. The digest finds damage, not forgery: the entries are trusted as
//! the user's own files are, and their code runs.

use cranelift_codegen::incremental_cache::CacheKvStore;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// What starts every entry, before the digest: the format's version.
const MAGIC: &[u8; 8] = b"mir13cc1";

/// The largest entry read: far more than any function's code.
const MAX_ENTRY: u64 = 64 << 20;

/// Entries a directory keeps before it loses the half used longest ago:
/// 16,384 in all, at a few kilobytes each (`nbody.mir`'s largest function
/// takes 6 KB).
const SHARD_ENTRIES: usize = 64;

/// A directory of compiled functions (see the module doc).
#[derive(Debug)]
pub struct CodeCache {
    dir: PathBuf,
}

impl CodeCache {
    /// The cache in `dir`, which is created (readable by its owner only)
    /// when the first entry is written.
    pub fn new(dir: impl Into<PathBuf>) -> CodeCache {
        CodeCache { dir: dir.into() }
    }

    /// Where the entries are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry for `key`.
    fn entry(&self, key: &[u8]) -> PathBuf {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let (shard, name) = hex.split_at(2.min(hex.len()));
        self.dir.join(shard).join(name)
    }

    /// What the entry for `key` holds, if it is there and sound; marks it
    /// used.
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        let path = self.entry(key);
        let kind = fs::symlink_metadata(&path).ok()?;
        if !kind.is_file() || kind.len() > MAX_ENTRY {
            return None;
        }
        let mut file = fs::File::open(&path).ok()?;
        let mut bytes = Vec::with_capacity(kind.len() as usize);
        (&mut file).take(MAX_ENTRY).read_to_end(&mut bytes).ok()?;
        let header = MAGIC.len() + 32;
        if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
            return None;
        }
        if digest(key, &bytes[header..]) != bytes[MAGIC.len()..header] {
            return None;
        }
        bytes.drain(..header);
        // Pruning goes by the time of last use, so a run does not lose what it needs.
        let _ = file.set_modified(std::time::SystemTime::now());
        Some(bytes)
    }

    /// Stores `blob` as the entry for `key`, then prunes its directory.
    fn write(&self, key: &[u8], blob: &[u8]) -> std::io::Result<()> {
        let path = self.entry(key);
        let shard = path.parent().expect("an entry is inside its shard");
        create_private_dir(shard)?;
        // Unique among the runs writing at once: the process and a counter.
        static WRITES: AtomicU32 = AtomicU32::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let temp = shard.join(format!(".tmp-{}-{n}", std::process::id()));
        let written = (|| {
            let mut file = fs::File::create(&temp)?;
            file.write_all(MAGIC)?;
            file.write_all(&digest(key, blob))?;
            file.write_all(blob)?;
            fs::rename(&temp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written?;
        prune(shard)
    }
}

/// What an entry's header holds: a SHA-256 of its key followed by its blob.
fn digest(key: &[u8], blob: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update(key).chain_update(blob).finalize().into()
}

/// Creates `dir` and its parents, the new ones readable by the owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Removes the half of `shard`'s entries used longest ago once it holds
/// more than [`SHARD_ENTRIES`], and what a run that stopped while writing
/// left there an hour ago or more.
fn prune(shard: &Path) -> std::io::Result<()> {
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in fs::read_dir(shard)? {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            if modified.elapsed().is_ok_and(|age| age.as_secs() >= 3600) {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        entries.push((modified, entry.path()));
    }
    if entries.len() > SHARD_ENTRIES {
        entries.sort();
        for (_, path) in &entries[..entries.len() - SHARD_ENTRIES / 2] {
            let _ = fs::remove_file(path);
        }
    }
    Ok(())
}

/// The cache as Cranelift's store.
pub(crate) struct Store<'a>(pub &'a CodeCache);

impl CacheKvStore for Store<'_> {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        self.0.read(key).map(Cow::Owned)
    }

    fn insert(&mut self, key: &[u8], val: Vec<u8>) {
        let _ = self.0.write(key, &val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mir13-cache-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn an_entry_reads_back_and_a_damaged_one_is_a_miss() {
        let dir = temp_dir("damage");
        let cache = CodeCache::new(&dir);
        let key = [7u8; 32];
        assert_eq!(cache.read(&key), None);
        cache.write(&key, b"machine code").expect("writes");
        assert_eq!(cache.read(&key).as_deref(), Some(&b"machine code"[..]));
        let path = cache.entry(&key);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.read(&key), None, "a flipped bit fails the digest");
        fs::write(&path, b"mir13cc1").unwrap();
        assert_eq!(cache.read(&key), None, "a short entry is a miss");
        let other = [8u8; 32];
        cache.write(&other, b"other code").expect("writes");
        fs::copy(cache.entry(&other), &path).unwrap();
        assert_eq!(cache.read(&key), None, "another key's sound entry is a miss");
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_is_read() {
        let dir = temp_dir("kinds");
        let cache = CodeCache::new(&dir);
        let key = [9u8; 32];
        cache.write(&key, b"code").expect("writes");
        let path = cache.entry(&key);
        fs::remove_file(&path).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if made.is_ok_and(|status| status.success()) {
            assert_eq!(cache.read(&key), None, "a named pipe is a miss, not a wait");
            fs::remove_file(&path).unwrap();
        }
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        assert_eq!(cache.read(&key), None, "a link is a miss");
        let _ = fs::remove_dir_all(&dir);
    }

    /// Key number `i` of those whose entries share directory `00`.
    fn key(i: usize) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[1..9].copy_from_slice(&i.to_le_bytes());
        k
    }

    #[test]
    fn a_full_directory_loses_the_half_used_longest_ago() {
        let dir = temp_dir("prune");
        let cache = CodeCache::new(&dir);
        for i in 0..=SHARD_ENTRIES {
            cache.write(&key(i), b"x").expect("writes");
        }
        let left = fs::read_dir(dir.join("00")).unwrap().count();
        assert_eq!(left, SHARD_ENTRIES / 2);
        let readable = (0..=SHARD_ENTRIES).filter(|&i| cache.read(&key(i)).is_some()).count();
        assert_eq!(readable, SHARD_ENTRIES / 2);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reading_an_entry_keeps_it_when_its_directory_is_pruned() {
        let dir = temp_dir("used");
        let cache = CodeCache::new(&dir);
        for i in 0..SHARD_ENTRIES {
            cache.write(&key(i), b"x").expect("writes");
            let written = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i as u64);
            fs::File::options().write(true).open(cache.entry(&key(i))).unwrap().set_modified(written).unwrap();
        }
        assert!(cache.read(&key(0)).is_some(), "the entry written first");
        cache.write(&key(SHARD_ENTRIES), b"x").expect("writes");
        assert!(cache.read(&key(0)).is_some(), "just used, so kept");
        assert!(cache.read(&key(1)).is_none(), "used longest ago, so gone");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_directory_is_only_a_miss() {
        let file = temp_dir("unwritable");
        fs::write(&file, b"not a directory").unwrap();
        let cache = CodeCache::new(&file);
        assert!(cache.write(&[1u8; 32], b"x").is_err());
        assert_eq!(cache.read(&[1u8; 32]), None);
        let _ = fs::remove_file(&file);
    }
}
