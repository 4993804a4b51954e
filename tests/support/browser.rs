//! Headless Chromium for the tests of the pages a run writes (report.html, sweep.html): the
//! DOM after the page's scripts ran, from a browser that cannot reach any network (a network
//! namespace of its own when we are root). Chromium comes from Debian's `chromium` package,
//! which `scripts/test-suite` installs when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("no Chromium: install it (Debian: apt-get install chromium; scripts/test-suite does)");
}

/// The page's DOM after its scripts ran, from a browser that cannot reach any network.
pub(crate) fn dump_dom(page: &Path) -> String {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    let browser = chromium();
    let url = format!("file://{}", page.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        // Belt and braces where no namespace can be made: any host resolves to nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--dump-dom",
    ];
    let mut cmd = if root && Path::new("/usr/bin/unshare").exists() {
        let mut c = Command::new("/usr/bin/unshare");
        c.arg("--net").arg(&browser);
        c
    } else {
        Command::new(&browser)
    };
    let out = cmd
        .args(flags)
        .arg(&url)
        .env("HOME", page.parent().unwrap())
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
