//! The filesystem's own process: mounts the filesystem (FUSE, the `fuser` crate's own mount, no
//! libfuse) in the mount namespace it was started in, passes every operation through to the
//! backing directory, keeps the [`Model`] of what a power cut would lose, and answers the run's
//! requests on a Unix socket. It exits when its stdin closes (the run stopped it, or died); the
//! namespace, and the mount with it, go with it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags, RenameFlags,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};
use rand::Rng;

use super::model::{Dropped, Model};
use super::{Reply, Request as Ctl, ServeConfig};

/// Attributes and entries are not cached by the kernel: after a power cut, sizes change under it.
const TTL: Duration = Duration::ZERO;

fn errno(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_i32)
}

#[derive(Debug, Default)]
struct Tables {
    /// Inode → path under the backing directory (relative; empty for the root).
    paths: HashMap<u64, PathBuf>,
    /// Open files by handle, with their inode.
    handles: HashMap<u64, (u64, Arc<File>)>,
    next_handle: u64,
}

#[derive(Debug)]
struct Shared {
    backing: PathBuf,
    root_ino: u64,
    tables: Mutex<Tables>,
    model: Mutex<Model>,
    /// Held (shared) by every operation; a power cut takes it exclusively to wait for those in flight.
    gate: RwLock<()>,
    /// After a power cut, until the restore: every operation fails as on a drive with no power.
    dark: AtomicBool,
    /// The next `fsync` of a file fails.
    fail_fsync: AtomicBool,
    /// What the last failed `fsync` did: path and bytes dropped.
    failed: Mutex<Option<(String, u64)>>,
    /// Every write and fsync takes this much longer, µs.
    delay_us: AtomicU64,
}

#[derive(Debug)]
struct FaultFs(Arc<Shared>);

impl Shared {
    fn ino_of(&self, meta: &fs::Metadata) -> u64 {
        if meta.ino() == self.root_ino { 1 } else { meta.ino() }
    }

    fn rel(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        if ino.0 == 1 {
            return Ok(PathBuf::new());
        }
        self.tables
            .lock()
            .unwrap()
            .paths
            .get(&ino.0)
            .cloned()
            .ok_or(Errno::ENOENT)
    }

    fn real(&self, rel: &Path) -> PathBuf {
        self.backing.join(rel)
    }

    fn attr(&self, meta: &fs::Metadata) -> FileAttr {
        let time = |s: i64, ns: i64| {
            if s >= 0 {
                UNIX_EPOCH + Duration::new(s as u64, ns as u32)
            } else {
                UNIX_EPOCH
            }
        };
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            FileType::Directory
        } else if ft.is_symlink() {
            FileType::Symlink
        } else {
            FileType::RegularFile
        };
        FileAttr {
            ino: INodeNo(self.ino_of(meta)),
            size: meta.size(),
            blocks: meta.blocks(),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            crtime: SystemTime::UNIX_EPOCH,
            kind,
            perm: (meta.mode() & 0o7777) as u16,
            nlink: meta.nlink() as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Looks `rel` up and remembers its inode.
    fn enter(&self, rel: PathBuf) -> Result<FileAttr, Errno> {
        let meta = fs::symlink_metadata(self.real(&rel)).map_err(|e| errno(&e))?;
        let attr = self.attr(&meta);
        if attr.ino.0 != 1 {
            self.tables.lock().unwrap().paths.insert(attr.ino.0, rel);
        }
        Ok(attr)
    }

    /// The gate for one operation: `Err(EIO)` while the power is off.
    fn open_gate(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>, Errno> {
        let g = self.gate.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.dark.load(Ordering::SeqCst) {
            return Err(Errno::EIO);
        }
        Ok(g)
    }

    fn delay(&self) {
        let us = self.delay_us.load(Ordering::Relaxed);
        if us > 0 {
            std::thread::sleep(Duration::from_micros(us));
        }
    }

    fn handle(&self, fh: FileHandle) -> Result<(u64, Arc<File>), Errno> {
        self.tables
            .lock()
            .unwrap()
            .handles
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    fn add_handle(&self, ino: u64, file: File) -> u64 {
        let mut t = self.tables.lock().unwrap();
        t.next_handle += 1;
        let fh = t.next_handle;
        t.handles.insert(fh, (ino, Arc::new(file)));
        fh
    }

    fn chown(&self, path: &Path, req: &Request) {
        let _ = std::os::unix::fs::lchown(path, Some(req.uid()), Some(req.gid()));
    }

    /// The power cut: from now on every operation fails; returns once those in flight ended.
    fn cut(&self) {
        self.dark.store(true, Ordering::SeqCst);
        drop(self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Drops every unsynced write (keeping a seeded prefix of the last one if `torn`), and
    /// powers the drive up again.
    fn restore(&self, torn: Option<u64>) -> Reply {
        let _g = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut model = self.model.lock().unwrap();
        let last = model.last_write();
        let mut total = Dropped::default();
        let mut torn_row = None;
        let mut error = None;
        for ino in model.inodes() {
            let path = self.tables.lock().unwrap().paths.get(&ino).cloned();
            let file = path
                .as_ref()
                .and_then(|p| OpenOptions::new().read(true).write(true).open(self.real(p)).ok());
            let keep = match (torn, last) {
                (Some(seed), Some((l, len))) if l == ino && len > 1 => {
                    let kept = rand_chacha::ChaCha8Rng::seed_from(seed).random_range(1..len);
                    torn_row = Some((
                        path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                        kept,
                        len,
                    ));
                    Some(kept)
                }
                _ => None,
            };
            match model.drop_file(ino, file.as_ref(), keep) {
                Ok(d) => {
                    total.bytes += d.bytes;
                    total.files += d.files;
                }
                Err(e) => error = Some(format!("cannot drop the unsynced writes of inode {ino}: {e}")),
            }
        }
        self.dark.store(false, Ordering::SeqCst);
        if let Some(e) = error {
            return Reply::Failed(e);
        }
        Reply::Dropped {
            bytes: total.bytes,
            files: total.files,
            torn: torn_row,
        }
    }
}

/// A seeded RNG without naming the crate's traits at the call.
trait SeedFrom {
    fn seed_from(seed: u64) -> Self;
}

impl SeedFrom for rand_chacha::ChaCha8Rng {
    fn seed_from(seed: u64) -> Self {
        <Self as rand::SeedableRng>::seed_from_u64(seed)
    }
}

impl Filesystem for FaultFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| s.enter(s.rel(parent)?.join(name)));
        match r {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let meta = match fh.map(|fh| s.handle(fh)) {
                Some(Ok((_, f))) => f.metadata(),
                _ => fs::symlink_metadata(s.real(&s.rel(ino)?)),
            };
            meta.map(|m| s.attr(&m)).map_err(|e| errno(&e))
        });
        match r {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let path = s.real(&s.rel(ino)?);
            let io = |e: io::Error| errno(&e);
            if let Some(mode) = mode {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777)).map_err(io)?;
            }
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::lchown(&path, uid, gid).map_err(io)?;
            }
            if let Some(size) = size {
                s.delay();
                let file = match fh.map(|fh| s.handle(fh)) {
                    Some(Ok((_, f))) => f,
                    // Read too: a shrink first saves what it cuts off.
                    _ => Arc::new(OpenOptions::new().read(true).write(true).open(&path).map_err(io)?),
                };
                s.model.lock().unwrap().truncate(ino.0, &file, size).map_err(io)?;
            }
            if let Some(mtime) = mtime {
                let t = match mtime {
                    TimeOrNow::SpecificTime(t) => t,
                    TimeOrNow::Now => SystemTime::now(),
                };
                if let Ok(f) = File::open(&path) {
                    let _ = f.set_modified(t);
                }
            }
            fs::symlink_metadata(&path).map(|m| s.attr(&m)).map_err(io)
        });
        match r {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let rel = s.rel(parent)?.join(name);
            let path = s.real(&rel);
            fs::DirBuilder::new()
                .mode(mode & !umask & 0o7777)
                .create(&path)
                .map_err(|e| errno(&e))?;
            s.chown(&path, req);
            s.enter(rel)
        });
        match r {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let rel = s.rel(parent)?.join(name);
            let path = s.real(&rel);
            let meta = fs::symlink_metadata(&path).map_err(|e| errno(&e))?;
            fs::remove_file(&path).map_err(|e| errno(&e))?;
            let ino = s.ino_of(&meta);
            if meta.nlink() <= 1 {
                s.model.lock().unwrap().forget(ino);
                s.tables.lock().unwrap().paths.remove(&ino);
            }
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let s = &self.0;
        let r = s
            .open_gate()
            .and_then(|_g| fs::remove_dir(s.real(&s.rel(parent)?.join(name))).map_err(|e| errno(&e)));
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            if !flags.is_empty() {
                return Err(Errno::EINVAL);
            }
            let from = s.rel(parent)?.join(name);
            let to = s.rel(newparent)?.join(newname);
            let replaced = fs::symlink_metadata(s.real(&to)).ok();
            fs::rename(s.real(&from), s.real(&to)).map_err(|e| errno(&e))?;
            if let Some(m) = replaced.filter(|m| m.nlink() <= 1 && !m.is_dir()) {
                s.model.lock().unwrap().forget(s.ino_of(&m));
            }
            let mut t = s.tables.lock().unwrap();
            for p in t.paths.values_mut() {
                if let Ok(rest) = p.strip_prefix(&from) {
                    // (`join("")` would add a trailing slash: a file is not a directory.)
                    *p = if rest.as_os_str().is_empty() {
                        to.clone()
                    } else {
                        to.join(rest)
                    };
                }
            }
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let path = s.real(&s.rel(ino)?);
            let write = flags.0 & libc_consts::O_ACCMODE != libc_consts::O_RDONLY;
            let file = OpenOptions::new()
                .read(true)
                .write(write)
                .open(&path)
                .map_err(|e| errno(&e))?;
            Ok(s.add_handle(ino.0, file))
        });
        match r {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let rel = s.rel(parent)?.join(name);
            let path = s.real(&rel);
            let mut o = OpenOptions::new();
            o.read(true).write(true).mode(mode & !umask & 0o7777);
            if flags & libc_consts::O_EXCL != 0 {
                o.create_new(true);
            } else {
                o.create(true);
            }
            let file = o.open(&path).map_err(|e| errno(&e))?;
            s.chown(&path, req);
            let attr = s.enter(rel)?;
            Ok((attr, s.add_handle(attr.ino.0, file)))
        });
        match r {
            Ok((attr, fh)) => reply.created(&TTL, &attr, Generation(0), FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let (_, file) = s.handle(fh)?;
            let mut buf = vec![0u8; size as usize];
            let mut got = 0;
            while got < buf.len() {
                match file.read_at(&mut buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(errno(&e)),
                }
            }
            buf.truncate(got);
            Ok(buf)
        });
        match r {
            Ok(buf) => reply.data(&buf),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let s = &self.0;
        s.delay();
        // With the power off a write goes nowhere, and says nothing: the kernel's write-back
        // of mapped pages would otherwise keep the error and hand it to the engine's next
        // fsync after the restart, as no real power cut does.
        if s.dark.load(Ordering::SeqCst) {
            reply.written(data.len() as u32);
            return;
        }
        let r = s.open_gate().and_then(|_g| {
            let (ino, file) = s.handle(fh)?;
            s.model
                .lock()
                .unwrap()
                .write(ino, &file, offset, data)
                .map_err(|e| errno(&e))
        });
        match r {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lo: fuser::LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.0.tables.lock().unwrap().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let s = &self.0;
        s.delay();
        let r = s.open_gate().and_then(|_g| {
            let mut model = s.model.lock().unwrap();
            if s.fail_fsync.swap(false, Ordering::SeqCst) {
                // As Linux does: the write-back failed, the dirty pages are marked clean and
                // what they held is gone; the next fsync has nothing to report and succeeds.
                let rel = s.rel(ino).unwrap_or_default();
                let file = OpenOptions::new().read(true).write(true).open(s.real(&rel)).ok();
                let dropped = model.drop_file(ino.0, file.as_ref(), None).unwrap_or_default();
                *s.failed.lock().unwrap() = Some((rel.display().to_string(), dropped.bytes));
                return Err(Errno::EIO);
            }
            model.sync(ino.0);
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.0.open_gate().and_then(|_g| self.0.rel(ino)) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let s = &self.0;
        let r = s.open_gate().and_then(|_g| {
            let rel = s.rel(ino)?;
            let mut entries = vec![(ino.0, FileType::Directory, OsStr::new(".").to_owned())];
            entries.push((1, FileType::Directory, OsStr::new("..").to_owned()));
            for e in fs::read_dir(s.real(&rel)).map_err(|e| errno(&e))?.flatten() {
                let kind = match e.file_type() {
                    Ok(t) if t.is_dir() => FileType::Directory,
                    Ok(t) if t.is_symlink() => FileType::Symlink,
                    _ => FileType::RegularFile,
                };
                let ino = std::os::unix::fs::DirEntryExt::ino(&e);
                entries.push((if ino == s.root_ino { 1 } else { ino }, kind, e.file_name()));
            }
            Ok(entries)
        });
        match r {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.0.open_gate() {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match nix::sys::statvfs::statvfs(&self.0.backing) {
            Ok(v) => reply.statfs(
                v.blocks(),
                v.blocks_free(),
                v.blocks_available(),
                v.files(),
                v.files_free(),
                v.block_size() as u32,
                v.name_max() as u32,
                v.fragment_size() as u32,
            ),
            Err(_) => reply.error(Errno::EIO),
        }
    }
}

/// The flags `open` and `create` read, as Linux numbers them.
mod libc_consts {
    pub(super) const O_ACCMODE: i32 = 0o3;
    pub(super) const O_RDONLY: i32 = 0;
    pub(super) const O_EXCL: i32 = 0o200;
}

fn answer(shared: &Shared, req: Ctl) -> Reply {
    match req {
        Ctl::Ping => Reply::Done,
        Ctl::Pending => {
            let d = shared.model.lock().unwrap().pending();
            Reply::Dropped {
                bytes: d.bytes,
                files: d.files,
                torn: None,
            }
        }
        Ctl::SyncAll => {
            shared.model.lock().unwrap().sync_all();
            Reply::Done
        }
        Ctl::Cut => {
            shared.cut();
            Reply::Done
        }
        Ctl::Restore { torn_seed } => shared.restore(torn_seed),
        Ctl::FailNextFsync => {
            *shared.failed.lock().unwrap() = None;
            shared.fail_fsync.store(true, Ordering::SeqCst);
            Reply::Done
        }
        Ctl::FsyncFailed => {
            let failed = shared.failed.lock().unwrap().clone();
            if failed.is_none() {
                // Not met yet: disarmed, so that it does not strike after the fault's time.
                shared.fail_fsync.store(false, Ordering::SeqCst);
            }
            Reply::FsyncFailed(failed)
        }
        Ctl::Delay { us } => {
            shared.delay_us.store(us, Ordering::SeqCst);
            Reply::Done
        }
    }
}

fn control(shared: &Shared, stream: UnixStream) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        let reply = match serde_json::from_str::<Ctl>(&line?) {
            Ok(req) => answer(shared, req),
            Err(e) => Reply::Failed(format!("cannot read the request: {e}")),
        };
        let mut body = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        body.push(b'\n');
        out.write_all(&body)?;
    }
    Ok(())
}

/// Serves as the filesystem's process: `config` is [`ServeConfig`] as JSON. Never returns.
pub(super) fn serve(config: &str) -> ! {
    let fail = |what: String| -> ! {
        eprintln!("error: the fault filesystem {what}");
        std::process::exit(3)
    };
    let config: ServeConfig = serde_json::from_str(config).unwrap_or_else(|e| fail(format!("has a bad config: {e}")));
    // The run holds our stdin: when it closes (a clean stop) or the run dies, we go.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    let root_ino = fs::metadata(&config.backing)
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", config.backing.display())))
        .ino();
    let shared = Arc::new(Shared {
        backing: config.backing.clone(),
        root_ino,
        tables: Mutex::default(),
        model: Mutex::default(),
        gate: RwLock::new(()),
        dark: AtomicBool::new(false),
        fail_fsync: AtomicBool::new(false),
        failed: Mutex::new(None),
        delay_us: AtomicU64::new(0),
    });
    let mut options = fuser::Config::default();
    options.mount_options = vec![
        fuser::MountOption::FSName("stress-faultfs".into()),
        fuser::MountOption::Subtype("stress".into()),
        fuser::MountOption::DefaultPermissions,
    ];
    options.acl = fuser::SessionACL::All;
    options.n_threads = Some(4);
    let session = fuser::Session::new(FaultFs(shared.clone()), &config.mountpoint, &options)
        .unwrap_or_else(|e| fail(format!("cannot mount at {}: {e}", config.mountpoint.display())));
    let _background = session.spawn().unwrap_or_else(|e| fail(format!("cannot serve: {e}")));
    let _ = fs::remove_file(&config.socket);
    let listener = UnixListener::bind(&config.socket)
        .unwrap_or_else(|e| fail(format!("cannot listen on {}: {e}", config.socket.display())));
    for stream in listener.incoming().flatten() {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _ = control(&shared, stream);
        });
    }
    std::process::exit(0)
}
