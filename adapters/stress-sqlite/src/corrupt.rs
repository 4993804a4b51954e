//! The `corrupt` fault on SQLite's files: with the engine stopped, one page of a database file
//! or of its WAL, both chosen by the run's seed, overwritten with random bytes. A database page
//! is what `PRAGMA integrity_check` can find damaged; a WAL frame fails its checksum, and SQLite
//! then drops that frame and every later one — commits it acknowledged — without an error, which
//! only the acknowledged-write checker can tell.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use stress_core::OpError;
use stress_core::fault::PlannedFault;
use stress_core::rand::Rng;

/// A WAL file's header, and each frame's header before its page.
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// Reads `N` bytes at `at` of `file`.
fn read_at<const N: usize>(file: &Path, at: u64) -> std::io::Result<[u8; N]> {
    let mut f = std::fs::File::open(file)?;
    f.seek(SeekFrom::Start(at))?;
    let mut buf = [0u8; N];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Damages one page of one of the files of `paths`; says which.
pub(crate) fn damage(paths: &[PathBuf], seed: u64, fault: &PlannedFault) -> Result<String, OpError> {
    let mut rng = stress_core::fault::corrupt_rng(seed, fault);
    // Every file with a page to damage: (path, is the WAL, page size, pages).
    let mut files = Vec::new();
    for path in paths {
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        if let Ok([hi, lo]) = read_at::<2>(path, 16) {
            let size = match u16::from_be_bytes([hi, lo]) {
                1 => 65_536,
                n => u64::from(n),
            };
            if size > 0 && len / size > 1 {
                files.push((path.clone(), false, size, len / size));
            }
        }
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if let Ok(size) = read_at::<4>(&wal, 8).map(|b| u64::from(u32::from_be_bytes(b))) {
            let frames = len.saturating_sub(WAL_HEADER) / (FRAME_HEADER + size.max(1));
            if size > 0 && frames > 0 {
                files.push((wal, true, size, frames));
            }
        }
    }
    if files.is_empty() {
        return Err(OpError::msg("no SQLite file holds a page to damage yet"));
    }
    let (file, wal, size, pages) = files.swap_remove(rng.random_range(0..files.len()));
    // Page 0 of a database holds its header: damaging it is a database SQLite will not open at
    // all, a different finding; the seed picks among the others.
    let (page, offset) = if wal {
        let frame = rng.random_range(0..pages);
        (frame, WAL_HEADER + frame * (FRAME_HEADER + size) + FRAME_HEADER)
    } else {
        let page = rng.random_range(1..pages);
        (page, page * size)
    };
    stress_core::fault::overwrite(&file, offset, size as usize, &mut rng)?;
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(if wal {
        format!("damaged the page of WAL frame {page} of {pages} in {name} ({size} bytes at {offset})")
    } else {
        format!("damaged page {page} of {pages} of {name} ({size} bytes at {offset})")
    })
}
