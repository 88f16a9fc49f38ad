//! `cargo xtask cluster smoke`: what the end-to-end tests rely on, checked on the running cluster in the
//! namespace `tusk-smoke` (objects in `xtask/cluster/smoke.yaml`), which is removed afterwards.

use super::Layout;
use anyhow::{Result, bail};
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const OBJECTS: &str = include_str!("../../cluster/smoke.yaml");
const NAMESPACE: &str = "tusk-smoke";

pub fn run() -> Result<()> {
    let layout = Layout::new(false)?;
    let smoke = Smoke { layout: &layout };
    let _ = smoke.kubectl(&[
        "delete",
        "namespace",
        NAMESPACE,
        "--ignore-not-found",
        "--wait=true",
    ]);
    let started = Instant::now();
    smoke.apply(OBJECTS)?;
    let mut results = Vec::new();
    let mut check = |name: &'static str, test: &dyn Fn() -> Result<String>| {
        let begun = Instant::now();
        let result = test();
        match &result {
            Ok(detail) => eprintln!(
                "xtask: smoke ok    {name} ({:.1?}): {detail}",
                begun.elapsed()
            ),
            Err(error) => eprintln!(
                "xtask: smoke FAIL  {name} ({:.1?}): {error:#}",
                begun.elapsed()
            ),
        }
        results.push((name, result.is_ok()));
    };

    check("a tusk-postgres pod runs postgres --version", &|| {
        smoke.wait(
            "pod/postgres-version",
            "jsonpath={.status.phase}=Succeeded",
            120,
        )?;
        let logs = smoke.kubectl(&["logs", "pod/postgres-version"])?;
        if !logs.contains("postgres (PostgreSQL) 15") || !logs.starts_with("26") {
            bail!("unexpected output: {logs}");
        }
        Ok(logs.lines().collect::<Vec<_>>().join("; "))
    });
    check("a tusk-operator pod runs tusk crd", &|| {
        smoke.wait(
            "pod/operator-crd",
            "jsonpath={.status.phase}=Succeeded",
            120,
        )?;
        let logs = smoke.kubectl(&["logs", "pod/operator-crd"])?;
        if !logs.contains("postgresclusters.postgres-operator.crunchydata.com") {
            bail!(
                "unexpected output: {}",
                logs.lines().take(5).collect::<Vec<_>>().join("\n")
            );
        }
        Ok(format!("printed the CRD, {} lines", logs.lines().count()))
    });
    check(
        "a Job reaches a Deployment through its ClusterIP Service by DNS name",
        &|| {
            smoke.wait("job/client", "condition=Complete", 120)?;
            let logs = smoke.kubectl(&["logs", "job/client"])?;
            Ok(logs.lines().last().unwrap_or_default().to_string())
        },
    );
    check("kubectl exec and kubectl logs", &|| {
        smoke.wait("deployment/web", "condition=Available", 60)?;
        let out = smoke.kubectl(&["exec", "deployment/web", "--", "cat", "/www/index.html"])?;
        if out.trim() != "hello-from-web" {
            bail!("exec printed {out:?}");
        }
        smoke.kubectl(&["logs", "deployment/web"])?;
        Ok(format!("exec printed {:?}", out.trim()))
    });
    check(
        "a PVC of the default StorageClass binds; uid 26's data survives its pod",
        &|| {
            smoke.wait("pod/writer", "jsonpath={.status.phase}=Succeeded", 120)?;
            smoke.wait("pvc/data", "jsonpath={.status.phase}=Bound", 30)?;
            smoke.kubectl(&["delete", "pod/writer", "--wait=true"])?;
            smoke.apply(READER)?;
            smoke.wait("pod/reader", "jsonpath={.status.phase}=Succeeded", 120)?;
            let logs = smoke.kubectl(&["logs", "pod/reader"])?;
            if logs.trim() != "written-by-26" {
                bail!("the second pod read {logs:?}");
            }
            let class =
                smoke.kubectl(&["get", "pvc/data", "-o", "jsonpath={.spec.storageClassName}"])?;
            Ok(format!("class {class}, read back {:?}", logs.trim()))
        },
    );
    check("a StatefulSet pod is recreated after deletion", &|| {
        smoke.wait("pod/db-0", "condition=Ready", 90)?;
        let before = smoke.kubectl(&["get", "pod/db-0", "-o", "jsonpath={.metadata.uid}"])?;
        smoke.kubectl(&["delete", "pod/db-0", "--wait=true"])?;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let after = smoke
                .kubectl(&["get", "pod/db-0", "-o", "jsonpath={.metadata.uid}"])
                .unwrap_or_default();
            if !after.is_empty() && after != before {
                smoke.wait("pod/db-0", "condition=Ready", 90)?;
                return Ok(format!("uid {before} -> {after}"));
            }
            if Instant::now() > deadline {
                bail!("db-0 was not recreated");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    check(
        "a CronJob with a one-minute schedule fires and its Job completes",
        &|| {
            let deadline = Instant::now() + Duration::from_secs(150);
            loop {
                let done = smoke.kubectl(&[
                    "get",
                    "jobs",
                    "-o",
                    "jsonpath={range .items[?(@.status.succeeded==1)]}{.metadata.name} {end}",
                ])?;
                if let Some(job) = done
                    .split_whitespace()
                    .find(|name| name.starts_with("tick-"))
                {
                    return Ok(format!("job {job} completed"));
                }
                if Instant::now() > deadline {
                    bail!("no Job of the CronJob completed");
                }
                std::thread::sleep(Duration::from_secs(3));
            }
        },
    );

    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| *name)
        .collect();
    if failed.is_empty() {
        let _ = smoke.kubectl(&["delete", "namespace", NAMESPACE, "--wait=false"]);
        eprintln!(
            "xtask: all {} smoke tests passed in {:.0?}",
            results.len(),
            started.elapsed()
        );
        Ok(())
    } else {
        bail!(
            "{} of {} smoke tests failed (namespace {NAMESPACE} kept for debugging): {}",
            failed.len(),
            results.len(),
            failed.join("; ")
        )
    }
}

const READER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: reader
  namespace: tusk-smoke
spec:
  restartPolicy: Never
  containers:
    - name: reader
      image: localhost/tusk-toolbox:dev
      imagePullPolicy: Never
      command: [cat, /data/proof]
      volumeMounts:
        - {name: data, mountPath: /data}
  volumes:
    - name: data
      persistentVolumeClaim: {claimName: data}
";

struct Smoke<'a> {
    layout: &'a Layout,
}

impl Smoke<'_> {
    fn kubectl(&self, args: &[&str]) -> Result<String> {
        super::run(self.layout.kubectl().args(["-n", NAMESPACE]).args(args))
    }

    fn apply(&self, objects: &str) -> Result<()> {
        let mut child = self
            .layout
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(objects.as_bytes())?;
        }
        if !child.wait()?.success() {
            bail!("kubectl apply failed");
        }
        Ok(())
    }

    /// `kubectl wait --for=<condition>` with a timeout in seconds; on failure, says what the object looks like.
    fn wait(&self, object: &str, condition: &str, seconds: u64) -> Result<()> {
        let result = self.kubectl(&[
            "wait",
            object,
            &format!("--for={condition}"),
            &format!("--timeout={seconds}s"),
        ]);
        if let Err(error) = result {
            let described = self.kubectl(&["describe", object]).unwrap_or_default();
            let tail: Vec<&str> = described.lines().rev().take(15).collect();
            bail!(
                "{error:#}\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }
}
