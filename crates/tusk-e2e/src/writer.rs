//! A writer loop: a pod that inserts a row with a sequence number into [`TABLE`] through `hippo-primary`
//! about every 100 ms, a new `psql` connection each time (the Secret's `uri`, `verify-full` against the cluster
//! CA), and logs `ok <n> <epoch-ms> <server address>` or `fail <n> <epoch-ms> <error>` after each attempt. Tests read its log to
//! learn which writes were acknowledged and how long writes were refused.

use crate::client::{CLUSTER_CA_SECRET, Client, Target, psql_pod_trusting};
use crate::{get_json, kubectl, kubectl_with, wait_for};
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::time::Duration;

/// The table the writer inserts into: `n` is the sequence number, `at` the server's time of the insert. It lives
/// in a schema of its own, which the user may create (`GRANT ALL ON DATABASE`): PostgreSQL 15 and later, which
/// the local image runs, no longer let every user create tables in `public`.
pub const TABLE: &str = "tusk_e2e.writes";

/// The writer's shell loop; it stops once `/tmp/stop` exists and then prints `done`.
const SCRIPT: &str = r#"until psql "$(cat /user/uri)" -XAtq -v ON_ERROR_STOP=1 -c 'create schema if not exists tusk_e2e' -c 'create table if not exists tusk_e2e.writes (n bigint primary key, at timestamptz not null default now())'; do sleep 1; done
n=0
while [ ! -e /tmp/stop ]; do
  n=$((n+1))
  if server=$(timeout 5 psql "$(cat /user/uri)" -XAtq -v ON_ERROR_STOP=1 -c "insert into tusk_e2e.writes (n) values ($n) returning host(inet_server_addr())" 2>/tmp/error); then
    echo "ok $n $(date +%s%3N) $server"
  else
    echo "fail $n $(date +%s%3N) $(head -c 160 /tmp/error | tr '\n' ' ')"
  fi
  sleep 0.1
done
echo done"#;

/// One attempt of the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The sequence number it tried to insert.
    pub n: u64,
    /// Whether the insert was acknowledged as committed.
    pub ok: bool,
    /// When the attempt ended, in milliseconds since the epoch (the node's clock, which the tests share).
    pub at_ms: u64,
    /// The address of the server that acknowledged the write (empty for a refused one).
    pub server: String,
}

/// The writer's log, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterLog {
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

impl WriterLog {
    /// Parses the writer's output; lines of other shapes (psql notices, `done`) are ignored.
    pub fn parse(log: &str) -> WriterLog {
        let attempts = log
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let ok = match words.next()? {
                    "ok" => true,
                    "fail" => false,
                    _ => return None,
                };
                let n = words.next()?.parse().ok()?;
                let at_ms = words.next()?.parse().ok()?;
                let server = match ok {
                    true => words.next().unwrap_or_default().to_string(),
                    false => String::new(),
                };
                Some(Attempt {
                    n,
                    ok,
                    at_ms,
                    server,
                })
            })
            .collect();
        WriterLog { attempts }
    }

    /// The sequence numbers acknowledged as committed.
    pub fn committed(&self) -> BTreeSet<u64> {
        self.attempts.iter().filter(|a| a.ok).map(|a| a.n).collect()
    }

    /// The acknowledged writes that are not among `rows` (what [`rows`] read): lost writes.
    pub fn lost(&self, rows: &BTreeSet<u64>) -> Vec<u64> {
        self.committed().difference(rows).copied().collect()
    }

    /// How many attempts were refused.
    pub fn refused(&self) -> usize {
        self.attempts.iter().filter(|a| !a.ok).count()
    }

    /// The longest time in which no write was accepted: the longest interval between two consecutive
    /// acknowledged writes (it includes the loop's own ~100 ms pause and the connection time, so a healthy
    /// loop shows a few hundred milliseconds).
    pub fn longest_refusal(&self) -> Duration {
        let oks: Vec<u64> = self
            .attempts
            .iter()
            .filter(|a| a.ok)
            .map(|a| a.at_ms)
            .collect();
        let longest = oks
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .max()
            .unwrap_or(0);
        Duration::from_millis(longest)
    }

    /// When the first write after `since_ms` (epoch milliseconds) was accepted by the server at `address`.
    pub fn first_ok_on_after(&self, address: &str, since_ms: u64) -> Option<u64> {
        self.attempts
            .iter()
            .find(|a| a.ok && a.at_ms > since_ms && a.server == address)
            .map(|a| a.at_ms)
    }
}

/// A running writer pod.
pub struct Writer {
    namespace: String,
    pod: String,
}

impl Writer {
    /// Starts writer pod `pod` in `namespace` (hippo's Secrets must exist) and waits for its first
    /// acknowledged write.
    pub fn start(namespace: &str, pod: &str) -> Result<Writer> {
        Writer::start_trusting(namespace, pod, CLUSTER_CA_SECRET)
    }

    /// [`Writer::start`] verifying the server against the `ca.crt` of Secret `ca_secret` (a custom TLS
    /// Secret) instead of the cluster CA.
    pub fn start_trusting(namespace: &str, pod: &str, ca_secret: &str) -> Result<Writer> {
        kubectl_with(
            &["-n", namespace, "apply", "--server-side", "-f", "-"],
            Some(&psql_pod_trusting(pod, SCRIPT, ca_secret)),
        )?;
        let writer = Writer {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
        };
        wait_for(
            &format!("writer {pod}'s first acknowledged write"),
            Duration::from_secs(240),
            || {
                let text = kubectl(&["-n", namespace, "logs", pod])?;
                if WriterLog::parse(&text).committed().is_empty() {
                    bail!("no write yet: {}", text.lines().last().unwrap_or_default());
                }
                Ok(Some(()))
            },
        )?;
        Ok(writer)
    }

    /// The log so far (a line being written may be missing).
    pub fn log(&self) -> Result<WriterLog> {
        let text = kubectl(&["-n", &self.namespace, "logs", &self.pod])?;
        Ok(WriterLog::parse(&text))
    }

    /// Stops the loop after its current attempt and returns the whole log.
    pub fn stop(self) -> Result<WriterLog> {
        kubectl(&[
            "-n",
            &self.namespace,
            "exec",
            &self.pod,
            "--",
            "touch",
            "/tmp/stop",
        ])?;
        wait_for(
            &format!("writer {} to stop", self.pod),
            Duration::from_secs(30),
            || {
                let pod = get_json(&self.namespace, &["pod", &self.pod])?;
                Ok((pod["status"]["phase"] == "Succeeded").then_some(()))
            },
        )?;
        let text = kubectl(&["-n", &self.namespace, "logs", &self.pod])?;
        if !text.lines().any(|line| line == "done") {
            bail!("writer {} ended without `done`: {text}", self.pod);
        }
        Ok(WriterLog::parse(&text))
    }
}

/// The sequence numbers in [`TABLE`] now, read through `hippo-primary` (tried for up to two minutes, as a
/// primary may just be coming back).
pub fn rows(client: &Client) -> Result<BTreeSet<u64>> {
    let output = client.psql_until_ok(
        Target::Service("hippo-primary"),
        &format!("select n from {TABLE}"),
        Duration::from_secs(120),
    )?;
    parse_rows(&output)
}

/// The sequence numbers of `TABLE` as psql printed them (one a line).
pub fn parse_rows(output: &str) -> Result<BTreeSet<u64>> {
    output
        .lines()
        .map(|line| line.trim().parse().context("a sequence number"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attempts_and_measures_the_longest_refusal() {
        let log = WriterLog::parse(
            "NOTICE: relation exists\nok 1 1000 10.0.0.1\nok 2 1150 10.0.0.1\nfail 3 4000 psql: error: timeout\nfail 4 5100\nok 5 5300 10.0.0.2\nok 6 5450 10.0.0.2\ndone\n",
        );
        assert_eq!(log.attempts.len(), 6);
        assert_eq!(log.committed(), BTreeSet::from([1, 2, 5, 6]));
        assert_eq!(log.refused(), 2);
        assert_eq!(log.longest_refusal(), Duration::from_millis(4150));
        assert_eq!(log.attempts[2].server, "");
        assert_eq!(log.first_ok_on_after("10.0.0.2", 0), Some(5300));
        assert_eq!(log.first_ok_on_after("10.0.0.1", 1000), Some(1150));
        assert_eq!(log.first_ok_on_after("10.0.0.2", 6000), None);
    }

    #[test]
    fn the_loop_writes_into_the_table() {
        assert_eq!(SCRIPT.matches(TABLE).count(), 2);
    }

    #[test]
    fn parses_rows() {
        assert_eq!(
            parse_rows("1\n2\n10\n").unwrap(),
            BTreeSet::from([1, 2, 10])
        );
        assert!(parse_rows("x").is_err());
    }
}
