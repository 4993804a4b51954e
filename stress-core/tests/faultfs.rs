//! The fault filesystem on a real FUSE mount: what a power cut keeps is what was fsynced, a torn
//! write keeps a prefix of the last write, a failed fsync drops what it did not write, and
//! nothing stays mounted or running after the filesystem goes — even when the process that
//! made it is killed in the middle of a power cut.
//!
//! Needs root, mount namespaces and /dev/fuse, as the storage faults do; skipped (with a line
//! saying why) where the machine has none of them.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use stress_core::faultfs::FaultFs;
use stress_core::sizedfs::Namespaced;

/// How this test binary serves as the filesystem's process.
#[test]
fn engine_host() {
    stress_core::serve_engine_host();
}

fn mounted() -> Option<FaultFs> {
    if let Err(e) = stress_core::faultfs::can_create() {
        eprintln!("skipped: {e}");
        return None;
    }
    Some(FaultFs::create(None).expect("mount the fault filesystem"))
}

fn open(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

#[test]
fn a_power_cut_keeps_what_was_fsynced_and_drops_the_rest() {
    let Some(fs) = mounted() else { return };
    let path = fs.outside(&fs.mountpoint().join("wal"));
    let f = open(&path);
    f.write_all_at(b"synced;", 0).unwrap();
    f.sync_data().unwrap();
    f.write_all_at(b"lost", 7).unwrap();
    f.write_all_at(b"X", 0).unwrap();
    let pending = fs.pending().unwrap();
    assert_eq!((pending.bytes, pending.files), (5, 1), "{pending:?}");
    fs.cut().unwrap();
    // A write after the cut goes nowhere (and says nothing, as a drive without power).
    let _ = f.write_all_at(b"after", 0);
    drop(f);
    let dropped = fs.restore(None).unwrap();
    assert_eq!((dropped.bytes, dropped.files), (5, 1), "{dropped:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"synced;");
    // The filesystem works again, and a second cut with nothing unsynced drops nothing.
    std::fs::write(fs.outside(&fs.mountpoint().join("other")), b"x").unwrap();
    fs.sync_all().unwrap();
    fs.cut().unwrap();
    assert_eq!(fs.restore(None).unwrap().bytes, 0);
    assert_eq!(std::fs::read(fs.outside(&fs.mountpoint().join("other"))).unwrap(), b"x");
}

#[test]
fn a_torn_write_keeps_a_seeded_prefix_of_the_last_write() {
    let Some(fs) = mounted() else { return };
    let path = fs.outside(&fs.mountpoint().join("page"));
    let f = open(&path);
    f.write_all_at(&[0u8; 8192], 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(&[1u8; 100], 0).unwrap();
    f.write_all_at(&[7u8; 4096], 4096).unwrap();
    drop(f);
    fs.cut().unwrap();
    let dropped = fs.restore(Some(42)).unwrap();
    let (file, kept, of) = dropped.torn.clone().expect("a torn write");
    assert_eq!((file.as_str(), of), ("page", 4096), "{dropped}");
    assert!(kept > 0 && kept < 4096, "{dropped}");
    let now = std::fs::read(&path).unwrap();
    assert!(
        now[..4096].iter().all(|b| *b == 0),
        "the earlier write is dropped whole"
    );
    assert!(now[4096..4096 + kept as usize].iter().all(|b| *b == 7));
    assert!(now[4096 + kept as usize..].iter().all(|b| *b == 0));
    // The same seed tears the same write the same way.
    let f = open(&path);
    f.write_all_at(&[7u8; 4096], 4096).unwrap();
    drop(f);
    fs.cut().unwrap();
    assert_eq!(fs.restore(Some(42)).unwrap().torn, dropped.torn);
}

#[test]
fn a_failed_fsync_drops_the_unsynced_writes_and_the_next_one_succeeds() {
    let Some(fs) = mounted() else { return };
    let path = fs.outside(&fs.mountpoint().join("data"));
    let mut f = open(&path);
    f.write_all(b"kept").unwrap();
    f.sync_all().unwrap();
    fs.fail_next_fsync().unwrap();
    f.write_all(b"+gone").unwrap();
    let err = f.sync_all().expect_err("the armed fsync must fail");
    assert_eq!(err.raw_os_error(), Some(5), "EIO: {err}");
    assert_eq!(fs.fsync_failed().unwrap(), Some(("data".to_owned(), 5)));
    // As on Linux, the retry has nothing left to write, and says it succeeded.
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(std::fs::read(&path).unwrap(), b"kept");
}

#[test]
fn directories_renames_and_unlinks_pass_through() {
    let Some(fs) = mounted() else { return };
    let dir = fs.outside(&fs.mountpoint().join("d"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.tmp"), b"one").unwrap();
    std::fs::rename(dir.join("a.tmp"), dir.join("a")).unwrap();
    std::fs::write(dir.join("b"), b"two").unwrap();
    std::fs::remove_file(dir.join("b")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a"]);
    // A rename keeps the file's unsynced writes under its new name: a cut drops them there.
    fs.cut().unwrap();
    fs.restore(None).unwrap();
    assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"");
}

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purpose: it holds no namespace and no mount.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn gone_within(what: &str, mut gone: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !gone() {
        assert!(Instant::now() < until, "{what} is still there a minute later");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn nothing_stays_mounted_or_running_after_the_filesystem_goes() {
    let Some(fs) = mounted() else { return };
    let pid = fs.holder_pid();
    let mnt = fs.mountpoint().to_owned();
    drop(fs);
    gone_within("the filesystem's process", || !alive(pid));
    gone_within("its directory", || !mnt.exists());
}

/// The child of the test below: makes a filesystem, writes, cuts the power, says the pid and
/// the mountpoint, and waits to be killed.
#[test]
fn killed_during_a_power_cut_child() {
    if std::env::var("STRESS_FAULTFS_TEST_CHILD").is_err() {
        return;
    }
    let Some(fs) = mounted() else { return };
    let f = open(&fs.outside(&fs.mountpoint().join("x")));
    f.write_all_at(b"unsynced", 0).unwrap();
    fs.cut().unwrap();
    println!("READY {} {}", fs.holder_pid(), fs.mountpoint().display());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_harness_killed_during_a_power_cut_leaves_nothing_mounted_or_running() {
    if stress_core::faultfs::can_create().is_err() {
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "killed_during_a_power_cut_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STRESS_FAULTFS_TEST_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(out);
    loop {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
            "the child said nothing"
        );
        // (libtest's own words may stand before it on the line.)
        if let Some(at) = line.find("READY ") {
            line.drain(..at);
            break;
        }
    }
    let mut parts = line.split_whitespace().skip(1);
    let pid: u32 = parts.next().unwrap().parse().unwrap();
    let mnt = std::path::PathBuf::from(parts.next().unwrap());
    assert!(alive(pid));
    child.kill().unwrap();
    child.wait().unwrap();
    gone_within("the filesystem's process", || !alive(pid));
    gone_within("its directory", || !mnt.exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("stress-faultfs"),
        "a fault filesystem is mounted here: {mounts}"
    );
}

/// A truncation through a path opened write-only (`open(O_WRONLY|O_TRUNC)`, as PostgreSQL's
/// recovery rewrites a file) saves what it cuts off first: the filesystem reads it even though
/// the engine's handle cannot.
#[test]
fn a_write_only_truncate_of_synced_bytes_is_undone_by_a_cut() {
    let Some(fs) = mounted() else { return };
    let path = fs.outside(&fs.mountpoint().join("version"));
    std::fs::write(&path, b"15\n").unwrap();
    fs.sync_all().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(b"16\n").unwrap();
    drop(f);
    fs.cut().unwrap();
    fs.restore(None).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"15\n");
}

/// The state letter of every thread of `pid` (`R`, `S`, `D`, `T`…), and where the first waits.
fn threads(pid: u32) -> (String, String) {
    let states: String = stress_core::monitor::thread_states(pid).into_iter().collect();
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    (states, wchan)
}

/// A process writing to the filesystem, waiting (in the kernel) for it to answer.
fn writer_waiting_on(fs: &FaultFs, name: &str) -> std::process::Child {
    let child = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1", "count=1", "conv=fsync"])
        .arg(format!("of={}", fs.outside(&fs.mountpoint().join(name)).display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    gone_within("a writer not yet waiting on the filesystem", || {
        let (_, wchan) = threads(pid);
        wchan.contains("fuse") || wchan.contains("request_wait_answer")
    });
    child
}

/// Before a power cut the engine is stopped, and `halt_tree` returns only once it is: a thread
/// in the middle of a write the filesystem has not answered yet (which would see the cut's EIO
/// and tell its client, were it still running when the answer came) has stopped too. A bare
/// SIGSTOP returns at once with that thread still waiting: the control.
#[test]
fn an_engine_halted_for_a_power_cut_is_stopped_in_every_thread_before_the_cut() {
    use std::os::unix::process::ExitStatusExt;
    let Some(fs) = mounted() else { return };
    fs.set_delay(Duration::from_secs(6)).unwrap();
    let mut control = writer_waiting_on(&fs, "control");
    let mut halted = writer_waiting_on(&fs, "halted");
    stress_core::fault::signal_tree(control.id(), "STOP").unwrap();
    let (states, _) = threads(control.id());
    assert!(
        !states.contains('T'),
        "a bare SIGSTOP leaves a thread waiting on the filesystem running on: {states}"
    );
    stress_core::fault::halt_tree(halted.id()).unwrap();
    let (states, wchan) = threads(halted.id());
    assert!(
        !states.is_empty() && states.chars().all(|c| c == 'T'),
        "halted, every thread stopped: {states} (waiting in {wchan})"
    );
    fs.cut().unwrap();
    for child in [&mut control, &mut halted] {
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "killed, not ended by an error it saw: {status:?}"
        );
    }
    fs.set_delay(Duration::ZERO).unwrap();
    fs.restore(None).unwrap();
}
