//! `timeseries.csv`: one row per second.

use crate::stats::IntervalRecord;

/// Renders interval records as CSV: fixed columns, then one column per resource metric (in the
/// order they first appeared).
pub fn timeseries_csv(records: &[IntervalRecord]) -> String {
    let mut metrics: Vec<&str> = Vec::new();
    for r in records {
        for (name, _) in &r.resources {
            if !metrics.contains(&name.as_str()) {
                metrics.push(name);
            }
        }
    }
    let mut out = String::from(
        "second,ops,failed,substituted,rows,p50_us,p99_us,max_us,service_p99_us,late,skipped,max_lag_us,\
         active_users,target,stage,paused",
    );
    for m in &metrics {
        out.push(',');
        out.push_str(m);
    }
    out.push('\n');
    for r in records {
        let opt = |v: Option<String>| v.unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.second,
            r.ops,
            r.failed,
            r.substituted,
            r.rows,
            r.p50_us,
            r.p99_us,
            r.max_us,
            r.service_p99_us,
            r.late,
            r.skipped,
            r.max_lag_us,
            r.active_users,
            opt(r.target.map(|t| format!("{t:.1}"))),
            opt(r.stage.map(|s| s.to_string())),
            u8::from(r.paused)
        ));
        for m in &metrics {
            out.push(',');
            if let Some((_, v)) = r.resources.iter().find(|(n, _)| n == m) {
                out.push_str(&format!("{v:.2}"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_metrics() {
        let rows = [
            IntervalRecord {
                second: 0,
                ops: 10,
                p99_us: 7,
                resources: vec![("process.rss_mb".into(), 12.5)],
                ..IntervalRecord::default()
            },
            IntervalRecord {
                second: 1,
                paused: true,
                active_users: 3,
                target: Some(50.0),
                stage: Some(1),
                resources: vec![("sqlite.disk_mb".into(), 1.0), ("process.rss_mb".into(), 13.0)],
                ..IntervalRecord::default()
            },
        ];
        let csv = timeseries_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "second,ops,failed,substituted,rows,p50_us,p99_us,max_us,service_p99_us,late,skipped,max_lag_us,\
             active_users,target,stage,paused,process.rss_mb,sqlite.disk_mb"
        );
        assert_eq!(lines[1], "0,10,0,0,0,0,7,0,0,0,0,0,0,,,0,12.50,");
        assert_eq!(lines[2], "1,0,0,0,0,0,0,0,0,0,0,0,3,50.0,1,1,13.00,1.00");
    }
}
