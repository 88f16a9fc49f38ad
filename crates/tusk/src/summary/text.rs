//! A [`Summary`] as one screen a person reads.

use super::Summary;
use k8s_openapi::jiff::Timestamp;
use std::fmt::Write;

/// `summary` as text, ages counted to `now`.
pub fn render(summary: &Summary, now: Timestamp) -> String {
    let mut out = String::new();
    let leaders = summary.members.iter().filter(|m| m.leads()).count();
    let _ = writeln!(
        out,
        "{} (namespace {}): PostgreSQL {}, {} instance(s){}, {}",
        summary.name,
        summary.namespace,
        summary.postgres_version,
        summary.members.len(),
        if summary.shutdown { ", shut down" } else { "" },
        if summary.spec_observed {
            "latest spec observed"
        } else {
            "the operator has not yet acted on the latest spec"
        }
    );
    let _ = writeln!(out);
    let mut members = vec![row(&[
        "INSTANCE",
        "ROLE",
        "STATE",
        "READY",
        "TIMELINE",
        "LAG",
        "RESTARTS",
        "PENDING RESTART",
    ])];
    members.extend(summary.members.iter().map(|m| {
        vec![
            m.pod.clone(),
            m.role.clone(),
            m.state.clone(),
            yes_no(m.ready),
            m.timeline.map_or("-".into(), |t| t.to_string()),
            m.lag_bytes.map_or("-".into(), bytes),
            m.restarts.to_string(),
            yes_no(m.pending_restart),
        ]
    }));
    out.push_str(&table(&members));
    if leaders == 0 && !summary.members.is_empty() {
        let _ = writeln!(out, "(no instance reports itself primary)");
    }
    let _ = writeln!(out);
    let mut repositories = vec![row(&["REPOSITORY", "STANZA", "LATEST BACKUPS"])];
    repositories.extend(summary.repositories.iter().map(|r| {
        let mut backups: Vec<String> = r
            .last
            .iter()
            .map(|b| format!("{} {} ago", b.type_, age(now, b.completed)))
            .collect();
        if backups.is_empty() {
            backups.push("none yet".into());
        }
        if r.running {
            backups.push("one running now".into());
        }
        if let Some(failed) = r.failed_since {
            backups.push(format!("the latest failed {} ago", age(now, failed)));
        }
        vec![r.name.clone(), yes_no(r.stanza_created), backups.join(", ")]
    }));
    out.push_str(&table(&repositories));
    if let Some(wal) = &summary.wal_archiving {
        let archived = match (&wal.last_archived_wal, &wal.last_archived_time) {
            (Some(file), Some(time)) => format!("{file} {} ago", age(now, time.0)),
            _ => "nothing yet".into(),
        };
        let _ = writeln!(
            out,
            "WAL archiving: last archived {archived}; {} failed attempt(s){}",
            wal.failed_count.unwrap_or(0),
            wal.last_failed_time
                .as_ref()
                .map(|t| format!(", the latest {} ago", age(now, t.0)))
                .unwrap_or_default()
        );
    }
    if let Some(pgbouncer) = summary.pgbouncer {
        let _ = writeln!(
            out,
            "PgBouncer: {} of {} pod(s) ready",
            pgbouncer.ready, pgbouncer.wanted
        );
    }
    let _ = writeln!(out);
    let mut certificates = vec![row(&["CERTIFICATE SECRET", "KEY", "SUBJECT", "EXPIRES IN"])];
    certificates.extend(summary.certificates.iter().map(|c| {
        vec![
            c.secret.clone(),
            c.key.clone(),
            c.common_name.clone(),
            format!("{} days", c.days_left),
        ]
    }));
    out.push_str(&table(&certificates));
    let _ = writeln!(out);
    if summary.problems.is_empty() {
        let _ = writeln!(out, "Nothing needs attention.");
    } else {
        let _ = writeln!(out, "Needs attention:");
        for problem in &summary.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

/// `rows` in columns two spaces apart, the last column unpadded.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}

/// How long before `now` `then` was, to the largest two units.
fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = (now.as_second() - then.as_second()).max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A byte count with a binary unit.
fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_read_naturally() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let ago = |s: i64| age(now, Timestamp::from_second(1_000_000 - s).unwrap());
        assert_eq!(ago(42), "42s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(2 * 3600 + 180), "2h 3m");
        assert_eq!(ago(3 * 86_400 + 5 * 3600), "3d 5h");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(16 * 1024 * 1024), "16.0 MiB");
    }

    #[test]
    fn columns_line_up() {
        let text = table(&[row(&["A", "BB", "C"]), row(&["long", "x", "y"])]);
        assert_eq!(text, "A     BB  C\nlong  x   y\n");
    }
}
