//! [`PoolMetrics`]: every pool's counts and counters (the primary's and each replica's), and
//! their Prometheus text form.

use std::fmt::Write as _;

use super::{Pool, PoolStatus};

/// The counts and counters of a pool and of each of its replicas' pools, from
/// [`Pool::metrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolMetrics {
    /// `host:port` of the primary.
    pub primary_target: String,
    /// The primary's pool.
    pub primary: PoolStatus,
    /// Each replica's pool, in the order configured.
    pub replicas: Vec<ReplicaMetrics>,
}

/// One replica's pool in [`PoolMetrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaMetrics {
    /// `host:port` of the replica.
    pub target: String,
    /// Its pool.
    pub status: PoolStatus,
}

impl Pool {
    /// The counts and counters of this pool and of each replica's pool; cheap (atomic reads,
    /// no round trip), so it can be scraped often.
    ///
    /// ```no_run
    /// # fn run(pool: skelly_db::Pool) {
    /// let metrics = pool.metrics();
    /// let waited = metrics.primary.checkout_wait; // in all, since the pool was built
    /// print!("{}", metrics.to_prometheus()); // serve this on /metrics
    /// # let _ = waited;
    /// # }
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        PoolMetrics {
            primary_target: self.target(),
            primary: self.status(),
            replicas: self
                .replicas()
                .iter()
                .map(|pool| ReplicaMetrics {
                    target: pool.target(),
                    status: pool.status(),
                })
                .collect(),
        }
    }
}

/// One metric: its name, type, help text and how to read it from a status.
struct Metric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&PoolStatus) -> f64,
}

const METRICS: &[Metric] = &[
    Metric {
        name: "skelly_db_pool_connections",
        kind: "gauge",
        help: "Connections open (idle and in use).",
        value: |s| s.size as f64,
    },
    Metric {
        name: "skelly_db_pool_connections_idle",
        kind: "gauge",
        help: "Open connections that are idle.",
        value: |s| s.available as f64,
    },
    Metric {
        name: "skelly_db_pool_connections_max",
        kind: "gauge",
        help: "The most connections the pool may hold.",
        value: |s| s.max_size as f64,
    },
    Metric {
        name: "skelly_db_pool_waiting",
        kind: "gauge",
        help: "Tasks waiting for a connection.",
        value: |s| s.waiting as f64,
    },
    Metric {
        name: "skelly_db_pool_connections_opened_total",
        kind: "counter",
        help: "Connections opened.",
        value: |s| s.connections_opened as f64,
    },
    Metric {
        name: "skelly_db_pool_connections_closed_total",
        kind: "counter",
        help: "Connections closed or detached.",
        value: |s| s.connections_closed as f64,
    },
    Metric {
        name: "skelly_db_pool_connect_attempts_total",
        kind: "counter",
        help: "Attempts to open a connection.",
        value: |s| s.connect_attempts as f64,
    },
    Metric {
        name: "skelly_db_pool_connect_failures_total",
        kind: "counter",
        help: "Attempts to open a connection that failed.",
        value: |s| s.connect_failures as f64,
    },
    Metric {
        name: "skelly_db_pool_checkouts_total",
        kind: "counter",
        help: "Checkouts that got a connection.",
        value: |s| s.checkouts as f64,
    },
    Metric {
        name: "skelly_db_pool_checkout_wait_seconds_total",
        kind: "counter",
        help: "Time checkouts waited for a connection, in all.",
        value: |s| s.checkout_wait.as_secs_f64(),
    },
    Metric {
        name: "skelly_db_pool_checkout_timeouts_total",
        kind: "counter",
        help: "Checkouts that timed out waiting for a connection.",
        value: |s| s.checkout_timeouts as f64,
    },
];

impl PoolMetrics {
    /// The metrics in the Prometheus text exposition format, one series per pool labelled
    /// `role="primary"` or `role="replica"` and `server="host:port"`.
    ///
    /// ```
    /// # fn run() -> skelly_db::Result<()> {
    /// let pool = skelly_db::Pool::connect("postgres://app@127.0.0.1:5432/app")?;
    /// let text = pool.metrics().to_prometheus();
    /// assert!(text.contains(
    ///     "skelly_db_pool_checkouts_total{role=\"primary\",server=\"127.0.0.1:5432\"} 0"
    /// ));
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn to_prometheus(&self) -> String {
        let mut pools = vec![("primary", self.primary_target.as_str(), &self.primary)];
        pools.extend(
            self.replicas
                .iter()
                .map(|r| ("replica", r.target.as_str(), &r.status)),
        );
        let mut out = String::new();
        for metric in METRICS {
            let _ = writeln!(out, "# HELP {} {}", metric.name, metric.help);
            let _ = writeln!(out, "# TYPE {} {}", metric.name, metric.kind);
            for (role, target, status) in &pools {
                let _ = writeln!(
                    out,
                    "{}{{role=\"{role}\",server=\"{}\"}} {}",
                    metric.name,
                    label(target),
                    (metric.value)(status)
                );
            }
        }
        out
    }
}

// A label value with `\`, `"` and newlines escaped, as the format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn status(checkouts: u64) -> PoolStatus {
        PoolStatus {
            max_size: 10,
            size: 2,
            available: 1,
            waiting: 0,
            connect_attempts: 3,
            connect_failures: 1,
            connections_opened: 2,
            connections_closed: 0,
            checkouts,
            checkout_wait: Duration::from_millis(1500),
            checkout_timeouts: 0,
        }
    }

    #[test]
    fn prometheus_text_has_one_series_per_pool_and_metric() {
        let metrics = PoolMetrics {
            primary_target: "db:5432".into(),
            primary: status(7),
            replicas: vec![ReplicaMetrics {
                target: "r\"1:5432".into(),
                status: status(4),
            }],
        };
        let text = metrics.to_prometheus();
        assert!(text.contains("# TYPE skelly_db_pool_checkouts_total counter\n"));
        assert!(text
            .contains("skelly_db_pool_checkouts_total{role=\"primary\",server=\"db:5432\"} 7\n"));
        assert!(text.contains(
            "skelly_db_pool_checkouts_total{role=\"replica\",server=\"r\\\"1:5432\"} 4\n"
        ));
        assert!(text.contains(
            "skelly_db_pool_checkout_wait_seconds_total{role=\"primary\",server=\"db:5432\"} 1.5\n"
        ));
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(series, METRICS.len() * 2);
    }
}
