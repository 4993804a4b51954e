//! End-to-end: `cargo stress run --shard`, `cargo stress merge`, and the merged run read back
//! by `report` and `replay --shard`, on the fixture's `blobs` workload (SQLite: each shard
//! owns its engine, sets it up and verifies it); and every refusal of bad input.

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use support::{cargo_stress, command, fixture_args, on_fixture, on_fixture_with, read_json, summary, text};

/// `run blobs` as shard `shard` (with `env` set), 3 writers, seed `seed`, into `out`.
fn shard_args<'a>(shard: &'a str, seed: &'a str, out: &'a Path) -> Vec<&'a str> {
    vec![
        "run",
        "blobs",
        "--exact",
        "--users",
        "writer=3",
        "--seed",
        seed,
        "--shard",
        shard,
        "--out",
        out.to_str().unwrap(),
    ]
}

/// The three shards of one run, started together (shard 1 finds its index as a Kubernetes
/// Indexed Job's pod does).
fn three_shards(dir: &Path, seed: &str) -> Vec<PathBuf> {
    let outs: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("s{seed}-{i}"))).collect();
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let spec = if i == 1 { "auto/3".to_owned() } else { format!("{i}/3") };
            let env: &[(&str, &str)] = if i == 1 { &[("JOB_COMPLETION_INDEX", "1")] } else { &[] };
            command(
                &fixture_args(&shard_args(&spec, seed, out)),
                Path::new(env!("CARGO_MANIFEST_DIR")),
                env,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "shard {i}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    outs
}

fn merge(dirs: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    cargo_stress(&args)
}

/// Exit 2 with one error line saying `want` (clap's errors add a usage line after it).
fn refused(out: &Output, want: &str) {
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    let e = stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(e.contains(want), "{e}");
}

#[test]
fn shards_merge_into_one_run_that_report_and_replay_read() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = three_shards(tmp.path(), "5");
    let ids = |dir: &Path| -> Vec<String> {
        summary(dir)["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&shards[1]),
        ["writer-1"],
        "auto/3 took its index from JOB_COMPLETION_INDEX"
    );
    for s in &shards {
        assert_eq!(
            summary(s)["verify"]["passed"],
            true,
            "each shard verifies its own SQLite file"
        );
        assert!(s.join("shard.json").is_file() && s.join("ledger.json").is_file());
    }

    let merged = tmp.path().join("merged");
    let out = merge(&[&shards[2], &shards[0], &shards[1]], &merged, &[]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("merged 3 of 3 shards of `blobs`"),
        "{}",
        text(&out.stdout)
    );
    let m = summary(&merged);
    assert_eq!(ids(&merged), ["writer-0", "writer-1", "writer-2"]);
    assert_eq!(m["total_ops"], 9);
    assert_eq!(m["ops"]["put"]["count"], 9);
    assert_eq!(m["verify"]["ran"], true);
    assert_eq!(m["passed"], true);
    assert_eq!(m["phases"]["write"]["count"], 9, "phase histograms are merged");
    assert_eq!(m["figures"]["client_bytes"]["sum"], 9000.0);
    assert_eq!(m["shards"]["count"], 3);
    assert_eq!(m["shards"]["merged"].as_array().unwrap().len(), 3);
    let sum_of = |key: &str| -> u64 {
        shards
            .iter()
            .map(|s| summary(s)["latency_us"][key].as_u64().unwrap())
            .sum()
    };
    assert_eq!(m["latency_us"]["count"].as_u64(), Some(sum_of("count")));
    let max = shards
        .iter()
        .map(|s| summary(s)["latency_us"]["max"].as_u64().unwrap())
        .max();
    assert_eq!(m["latency_us"]["max"].as_u64(), max, "the exact maximum of the shards");
    assert!(m["latency_us"]["p99"].as_u64() <= max);
    assert_eq!(read_json(&merged.join("replay.json"))["config"].get("shard"), None);

    // Every other command reads it like any run.
    let out = cargo_stress(&["report", merged.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replayed = tmp.path().join("replay-1");
    let out = cargo_stress(&[
        "replay",
        merged.to_str().unwrap(),
        "--shard",
        "1/3",
        "--debug",
        "--out",
        replayed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(ids(&replayed), ["writer-1"]);
    assert!(
        text(&out.stdout).contains("op_digest: 1 of 1 users match"),
        "{}",
        text(&out.stdout)
    );
    // And one user of it.
    let one = tmp.path().join("replay-writer-2");
    let replay_user = |user: &str, out: &Path| {
        cargo_stress(&[
            "replay",
            merged.to_str().unwrap(),
            "--user",
            user,
            "--debug",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let out = replay_user("writer-2", &one);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(ids(&one), ["writer-2"]);
    assert!(
        text(&out.stdout).contains("op_digest: 1 of 1 users match"),
        "{}",
        text(&out.stdout)
    );
    refused(
        &replay_user("writer-9", &tmp.path().join("never")),
        "user `writer-9` is not one of the run's: its users are writer-0, writer-1, writer-2",
    );

    // A partial merge says what it lacks.
    let partial = tmp.path().join("partial");
    let out = merge(&[&shards[0], &shards[2]], &partial, &["--allow-partial"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = summary(&partial);
    assert_eq!(p["shards"]["missing"], serde_json::json!([1]));
    assert_eq!(p["total_ops"], 6);
    assert!(
        text(&out.stdout).contains("partial merge: shard 1 of 3 missing"),
        "{}",
        text(&out.stdout)
    );

    // What merge refuses: one line, exit 2, nothing written.
    let nothing = tmp.path().join("nothing");
    refused(
        &merge(&[&shards[0], &shards[2]], &nothing, &[]),
        "shard 1 of 3 missing (given: 0, 2)",
    );
    refused(
        &merge(&[&shards[0], &shards[1], &shards[2], &shards[1]], &nothing, &[]),
        "shard 1 is given twice",
    );
    let other_seed = tmp.path().join("seed-6");
    let out = on_fixture(&shard_args("0/3", "6", &other_seed));
    assert!(out.status.success(), "{}", text(&out.stderr));
    refused(
        &merge(&[&other_seed, &shards[1], &shards[2]], &nothing, &[]),
        "of seed 5",
    );
    refused(&merge(&[&merged], &nothing, &[]), "not a shard's run directory");
    refused(
        &merge(&[&shards[0], &shards[1], &shards[2]], &merged, &[]),
        "holds a run",
    );
    assert!(!nothing.exists(), "a refused merge writes nothing");
}

#[test]
fn bad_shard_settings_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("never");
    for (shard, env, want) in [
        ("3/3", &[][..], "shards are numbered 0 to 2"),
        ("0/0", &[][..], "has 0 shards"),
        ("auto/3", &[][..], "none is set"),
        ("auto/3", &[("JOB_COMPLETION_INDEX", "7")][..], "shard 7 of 3"),
    ] {
        let out = on_fixture_with(&shard_args(shard, "1", &out_dir), env);
        refused(&out, want);
    }
    // blobs has 3 writers here: a fourth shard would run nobody.
    refused(
        &on_fixture_with(&shard_args("3/4", "1", &out_dir), &[]),
        "shard 3/4 would run no user",
    );
    let out = on_fixture_with(&["run", "blobs", "--exact", "--setup-only"], &[]);
    refused(&out, "needs an engine the shards share");
    let out = on_fixture_with(&["run", "blobs", "--exact", "--start-at", "tomorrow"], &[]);
    refused(&out, "give a time in UTC");
    assert!(!out_dir.exists());
}
