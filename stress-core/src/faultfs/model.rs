//! What a power cut would lose: for every file written since its last `fsync`, the bytes its
//! unsynced writes replaced (page by page, saved before the first write that touched the page)
//! and its length at that `fsync`. The writes themselves go to the backing file at once, so a
//! read needs no merging; a power cut puts the saved pages back and the length too.
//!
//! This is LazyFS's model turned around: LazyFS keeps unsynced writes in a cache of its own and
//! writes them to the backing file on `fsync`; we write through and keep what they replaced.
//! Both know at every moment what a power cut would lose; ours needs no read path of its own.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The unit of what is saved: a page.
pub(crate) const PAGE: u64 = 4096;

/// One file's unsynced state.
#[derive(Debug, Default)]
pub(crate) struct Unsynced {
    /// Its length at its last `fsync` (or when first written after it).
    durable_len: u64,
    /// Page index → the bytes the page held at the last `fsync` (shorter than a page at the
    /// durable end; empty past it).
    saved: BTreeMap<u64, Vec<u8>>,
    /// Bytes written since the last `fsync`, all writes counted.
    written: u64,
    /// The last write since the last `fsync`: its offset, its bytes and its place in the order of
    /// all writes (for a torn write).
    last: Option<(u64, Vec<u8>, u64)>,
}

/// What dropping a file's unsynced writes did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Bytes written since the last `fsync`, now gone.
    pub(crate) bytes: u64,
    /// Files that had any.
    pub(crate) files: u64,
}

/// Every file's unsynced state, by inode.
#[derive(Debug, Default)]
pub(crate) struct Model {
    files: HashMap<u64, Unsynced>,
    writes: u64,
}

fn saved_page(file: &File, page: u64, durable_len: u64) -> io::Result<Vec<u8>> {
    let start = page * PAGE;
    if start >= durable_len {
        return Ok(Vec::new());
    }
    let len = (durable_len - start).min(PAGE) as usize;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], start + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

impl Model {
    fn entry(&mut self, ino: u64, file: &File) -> io::Result<&mut Unsynced> {
        Ok(match self.files.entry(ino) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(Unsynced {
                durable_len: file.metadata()?.len(),
                ..Unsynced::default()
            }),
        })
    }

    /// Saves the pages `[from, to)` of `file` touches, if not saved since its last `fsync`.
    fn save(&mut self, ino: u64, file: &File, from: u64, to: u64) -> io::Result<()> {
        let state = self.entry(ino, file)?;
        if to <= from {
            return Ok(());
        }
        let durable_len = state.durable_len;
        for page in from / PAGE..=(to - 1) / PAGE {
            if let std::collections::btree_map::Entry::Vacant(slot) = state.saved.entry(page) {
                slot.insert(saved_page(file, page, durable_len)?);
            }
        }
        Ok(())
    }

    /// Writes `data` at `offset` of `file` (inode `ino`), saving first what it replaces.
    pub(crate) fn write(&mut self, ino: u64, file: &File, offset: u64, data: &[u8]) -> io::Result<()> {
        self.save(ino, file, offset, offset + data.len() as u64)?;
        file.write_all_at(data, offset)?;
        self.writes += 1;
        let seq = self.writes;
        let state = self.files.get_mut(&ino).expect("saved above");
        state.written += data.len() as u64;
        state.last = Some((offset, data.to_vec(), seq));
        Ok(())
    }

    /// Sets the length of `file`, saving first what a shrink cuts off.
    pub(crate) fn truncate(&mut self, ino: u64, file: &File, len: u64) -> io::Result<()> {
        let current = file.metadata()?.len();
        let durable = self.entry(ino, file)?.durable_len;
        if len < current.min(durable) {
            self.save(ino, file, len, current.min(durable))?;
        }
        file.set_len(len)?;
        let state = self.files.get_mut(&ino).expect("entered above");
        state.written += current.abs_diff(len);
        Ok(())
    }

    /// An `fsync`: what the file holds now is what a power cut leaves.
    pub(crate) fn sync(&mut self, ino: u64) {
        self.files.remove(&ino);
    }

    /// A `sync` of the whole filesystem.
    pub(crate) fn sync_all(&mut self) {
        self.files.clear();
    }

    /// The file is gone (unlinked, or replaced by a rename): nothing of it to put back.
    pub(crate) fn forget(&mut self, ino: u64) {
        self.files.remove(&ino);
    }

    /// What a power cut would drop now.
    pub(crate) fn pending(&self) -> Dropped {
        Dropped {
            bytes: self.files.values().map(|s| s.written).sum(),
            files: self.files.values().filter(|s| s.written > 0).count() as u64,
        }
    }

    /// The inode whose unsynced write was the last of all, with that write's length.
    pub(crate) fn last_write(&self) -> Option<(u64, u64)> {
        self.files
            .iter()
            .filter_map(|(ino, s)| s.last.as_ref().map(|(_, d, seq)| (*seq, *ino, d.len() as u64)))
            .max()
            .map(|(_, ino, len)| (ino, len))
    }

    /// Drops the unsynced writes of `ino`: puts back what they replaced and the durable length,
    /// then, if `keep` is given, writes that many bytes of the file's last unsynced write again
    /// (a torn write: a prefix reached the disk). `file` is `None` when the file is gone.
    pub(crate) fn drop_file(&mut self, ino: u64, file: Option<&File>, keep: Option<u64>) -> io::Result<Dropped> {
        let Some(state) = self.files.remove(&ino) else {
            return Ok(Dropped::default());
        };
        if let Some(file) = file {
            for (page, bytes) in &state.saved {
                if !bytes.is_empty() {
                    file.write_all_at(bytes, page * PAGE)?;
                }
            }
            file.set_len(state.durable_len)?;
            if let (Some(keep), Some((offset, data, _))) = (keep, &state.last) {
                let keep = (keep as usize).min(data.len());
                file.write_all_at(&data[..keep], *offset)?;
            }
        }
        Ok(Dropped {
            bytes: state.written,
            files: u64::from(state.written > 0),
        })
    }

    /// The inodes with unsynced writes.
    pub(crate) fn inodes(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.files.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), bytes).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(t.path())
            .unwrap();
        (t, f)
    }

    #[test]
    fn a_power_cut_puts_back_what_unsynced_writes_replaced() {
        let (t, f) = file_with(&[1u8; 10_000]);
        let mut m = Model::default();
        m.write(7, &f, 5000, &[2u8; 100]).unwrap();
        m.write(7, &f, 9990, &[3u8; 5000]).unwrap();
        assert_eq!(std::fs::metadata(t.path()).unwrap().len(), 14_990);
        assert_eq!(m.pending(), Dropped { bytes: 5100, files: 1 });
        let d = m.drop_file(7, Some(&f), None).unwrap();
        assert_eq!(d.bytes, 5100);
        assert_eq!(std::fs::read(t.path()).unwrap(), vec![1u8; 10_000]);
    }

    #[test]
    fn an_fsync_keeps_what_was_written_before_it() {
        let (t, f) = file_with(b"old");
        let mut m = Model::default();
        m.write(1, &f, 0, b"new").unwrap();
        m.sync(1);
        m.write(1, &f, 3, b"-lost").unwrap();
        m.truncate(1, &f, 1).unwrap();
        m.drop_file(1, Some(&f), None).unwrap();
        assert_eq!(std::fs::read(t.path()).unwrap(), b"new");
    }

    #[test]
    fn a_torn_write_keeps_a_prefix_of_the_last_write() {
        let (t, f) = file_with(&[0u8; 8192]);
        let mut m = Model::default();
        m.write(1, &f, 100, &[9u8; 50]).unwrap();
        m.write(1, &f, 4096, &[5u8; 4096]).unwrap();
        assert_eq!(m.last_write(), Some((1, 4096)));
        m.drop_file(1, Some(&f), Some(512)).unwrap();
        let now = std::fs::read(t.path()).unwrap();
        assert!(
            now[..4096].iter().all(|b| *b == 0),
            "the earlier write is dropped whole"
        );
        assert!(
            now[4096..4608].iter().all(|b| *b == 5),
            "512 bytes of the last write stay"
        );
        assert!(now[4608..].iter().all(|b| *b == 0));
    }
}
