//! The Kubernetes manifests of `deploy/kubernetes/`: validated against Kubernetes' own schemas
//! (kubernetes-validate, strict: no field the API does not have), then checked for what the
//! schemas cannot know — that they run a sharded run as cargo-stress means it: one shard per
//! index, no silent rerun, every shard's directory merged, settings the harness accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stress_core::EnvConfig;
use stress_core::shard::Shard;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

/// The validator scripts/install-kubernetes-validate installed (scripts/test-suite exports it).
fn validator() -> PathBuf {
    match std::env::var_os("KUBERNETES_VALIDATE") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "KUBERNETES_VALIDATE is not set: export KUBERNETES_VALIDATE=\"$(scripts/install-kubernetes-validate)\" \
             (scripts/test-suite does)"
        ),
    }
}

/// What the guide's `envsubst '${RUN} ${START_AT} ${IMAGE}'` (docs/guide/src/shards.md) makes of a manifest.
fn substituted(name: &str) -> String {
    std::fs::read_to_string(deploy().join(name))
        .unwrap()
        .replace("${RUN}", "run-1")
        .replace("${START_AT}", "2026-12-02T10:00:00Z")
        .replace("${IMAGE}", "stress-workloads:1")
}

/// Every document of a manifest, validated, as JSON.
fn documents(name: &str, dir: &Path) -> Vec<Value> {
    let text = substituted(name);
    assert!(
        !text.contains("${"),
        "{name}: a variable the guide does not set: {text}"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(validator()).arg("--strict").arg(&path).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.contains("passed"), "{name}: {said}");
    assert!(!said.contains("ERROR"), "{name}: {said}");
    let out = Command::new(validator()).arg("--to-json").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn container(job: &Value) -> &Value {
    let containers = job["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// A container's plainly valued variables, `$(JOB_COMPLETION_INDEX)` as pod 0 has it.
fn plain_env(c: &Value) -> Vec<(String, String)> {
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let v = e.get("value")?.as_str()?.replace("$(JOB_COMPLETION_INDEX)", "0");
            Some((e["name"].as_str()?.to_owned(), v))
        })
        .collect()
}

fn env_value<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c["env"].as_array().unwrap().iter().find(|e| e["name"] == name)
}

/// The harness reads every STRESS_* variable the manifest sets (the shard apart, whose index
/// comes from the pod), and knows each: no typo passes.
fn harness_accepts(c: &Value) {
    let vars: Vec<(String, String)> = plain_env(c).into_iter().filter(|(k, _)| k != "STRESS_SHARD").collect();
    let env = EnvConfig::from_vars(vars.clone()).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
    assert!(env.unknown.is_empty(), "unknown variables: {:?}", env.unknown);
    // The server is a secret's, and the PostgreSQL adapter's variable.
    let dsn = env_value(c, "STRESS_PG_DSN").expect("the shared server");
    assert_eq!(dsn["valueFrom"]["secretKeyRef"]["name"], "stress-pg");
}

/// The harness runs one workload, in full: `--exact NAME --include-ignored --test-threads 1`.
fn workload_of(c: &Value) -> String {
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "--exact");
    assert_eq!(args[2..], ["--include-ignored", "--test-threads", "1"]);
    args[1].to_owned()
}

#[test]
fn the_kubernetes_manifests_are_valid_and_run_one_sharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = documents("shards.yaml", tmp.path());
    let setup = documents("setup.yaml", tmp.path());
    let merge = documents("merge.yaml", tmp.path());
    let results = documents("results.yaml", tmp.path());
    assert_eq!(results[0]["metadata"]["name"], "stress-results");
    assert_eq!(results[0]["spec"]["accessModes"][0], "ReadWriteMany");

    // The shards: an Indexed Job, one pod per shard, none run twice.
    let job = &shards[0];
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap() as usize;
    assert_eq!(spec["parallelism"].as_u64(), Some(n as u64), "every shard runs at once");
    assert_eq!(spec["backoffLimitPerIndex"], 0, "a failed shard is not run again");
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    let c = container(job);
    let index = env_value(c, "JOB_COMPLETION_INDEX").unwrap();
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let spec_of_shard = env_value(c, "STRESS_SHARD").unwrap()["value"].as_str().unwrap();
    for i in 0..n {
        let shard = Shard::parse_with(spec_of_shard, |v| (v == "JOB_COMPLETION_INDEX").then(|| i.to_string())).unwrap();
        assert_eq!(
            (shard.index, shard.count),
            (i, n),
            "pod {i} runs shard {i} of the completions"
        );
    }
    harness_accepts(c);
    let out_dir = env_value(c, "STRESS_OUTPUT_DIR").unwrap()["value"].as_str().unwrap();
    assert_eq!(out_dir, "/results/run-1/shard-$(JOB_COMPLETION_INDEX)");
    let mount = |job: &Value| {
        let v = &job["spec"]["template"]["spec"]["volumes"][0];
        assert_eq!(v["persistentVolumeClaim"]["claimName"], "stress-results");
        container(job)["volumeMounts"][0]["mountPath"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(mount(job), "/results");
    let workload = workload_of(c);
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/monte-carlo/src/lib.rs"))
        .unwrap();
    assert!(
        lib.contains(&format!("pub fn {workload}()")),
        "{workload} is a workload of the image"
    );

    // The setup step: once, the same workload and seed, setup only.
    let c_setup = container(&setup[0]);
    assert_eq!(setup[0]["spec"]["backoffLimit"], 0);
    assert_eq!(workload_of(c_setup), workload);
    harness_accepts(c_setup);
    let seed = |c: &Value| env_value(c, "STRESS_SEED").unwrap()["value"].clone();
    assert_eq!(seed(c_setup), seed(c));
    assert_eq!(env_value(c_setup, "STRESS_SETUP_ONLY").unwrap()["value"], "1");

    // The merge: every shard's directory, once; then the verify step on the merged run.
    let m = container(&merge[0]);
    assert_eq!(mount(&merge[0]), "/results");
    harness_accepts(m);
    let script = m["args"][0].as_str().unwrap();
    let dirs: Vec<String> = (0..n).map(|i| format!("/results/run-1/shard-{i}")).collect();
    let command = format!(
        "cargo-stress stress merge {} --out /results/run-1/merged",
        dirs.join(" ")
    );
    assert!(script.contains(&command), "{script}");
    assert!(
        script.contains(&format!("stress-harness --exact {workload} --include-ignored")),
        "{script}"
    );
    assert_eq!(
        env_value(m, "STRESS_VERIFY_ONLY").unwrap()["value"],
        "/results/run-1/merged"
    );
    assert_eq!(merge[1]["kind"], "Pod", "a pod to copy the results out");
}

#[test]
fn the_image_recipe_builds_a_harness_binary_that_exists() {
    let docker = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let arg = |name: &str| {
        docker
            .lines()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")))
            .unwrap_or_else(|| panic!("ARG {name}"))
            .to_owned()
    };
    let (package, bin) = (arg("PACKAGE"), arg("HARNESS_BIN"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("examples").join(&package).join("Cargo.toml")).unwrap())
            .unwrap();
    assert_eq!(manifest["package"]["name"].as_str(), Some(package.as_str()));
    let target = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"].as_str() == Some(bin.as_str()))
        .expect("the harness binary is a [[bin]] of the package");
    let main = std::fs::read_to_string(
        root.join("examples")
            .join(&package)
            .join(target["path"].as_str().unwrap()),
    )
    .unwrap();
    assert!(main.contains("stress_core::main()"), "{main}");
    assert!(docker.contains("ENTRYPOINT [\"/usr/local/bin/stress-harness\"]"));
    // The guide's page on shards shows how to run them (the README links it).
    let guide = std::fs::read_to_string(root.join("docs/guide/src/shards.md")).unwrap();
    for f in [
        "results.yaml",
        "setup.yaml",
        "shards.yaml",
        "merge.yaml",
        "deploy/kubernetes/Dockerfile",
    ] {
        assert!(guide.contains(f), "the guide shows {f}");
    }
    assert!(
        guide.contains("envsubst '${RUN} ${START_AT} ${IMAGE}'"),
        "the guide substitutes only the manifests' variables (merge.yaml's script has its own)"
    );
}
