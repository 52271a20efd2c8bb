//! Per-thread CPU accounting from /proc: how much CPU each thread of a process used and how
//! often it woke, between two snapshots. CPU time and wake-up counts are what a thread did,
//! whatever else the machine runs, so they make assertions that hold on a busy host where
//! wall-clock latencies do not.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one thread had used when a snapshot was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskStat {
    /// The thread's name (`comm`).
    pub name: String,
    /// Time on a CPU (schedstat, nanoseconds).
    pub run_ns: u64,
    /// Times it blocked and was woken again (`voluntary_ctxt_switches`).
    pub wakeups: u64,
}

/// Every thread of process `pid` ("self" for this one), by thread id.
pub fn snapshot(pid: &str) -> BTreeMap<u32, TaskStat> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let run_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let wakeups = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.insert(
            tid,
            TaskStat {
                name: name.trim().to_owned(),
                run_ns,
                wakeups,
            },
        );
    }
    out
}

/// What each thread used between `before` and `after` (threads that started meanwhile count
/// from zero; threads that ended are missing).
pub fn used(
    before: &BTreeMap<u32, TaskStat>,
    after: &BTreeMap<u32, TaskStat>,
) -> BTreeMap<u32, TaskStat> {
    after
        .iter()
        .map(|(tid, a)| {
            let b = before.get(tid).cloned().unwrap_or_default();
            let d = TaskStat {
                name: a.name.clone(),
                run_ns: a.run_ns.saturating_sub(b.run_ns),
                wakeups: a.wakeups.saturating_sub(b.wakeups),
            };
            (*tid, d)
        })
        .collect()
}

/// The sum over the threads `keep` selects.
pub fn total(used: &BTreeMap<u32, TaskStat>, keep: impl Fn(u32, &TaskStat) -> bool) -> TaskStat {
    let mut t = TaskStat::default();
    for (tid, s) in used {
        if keep(*tid, s) {
            t.run_ns += s.run_ns;
            t.wakeups += s.wakeups;
        }
    }
    t
}

/// One line per thread that ran: `name[tid] 1.234 ms / 5 wake-ups`.
pub fn describe(used: &BTreeMap<u32, TaskStat>) -> String {
    used.iter()
        .filter(|(_, s)| s.run_ns > 0 || s.wakeups > 0)
        .map(|(tid, s)| {
            format!(
                "{}[{tid}] {:?} / {} wake-ups",
                s.name,
                Duration::from_nanos(s.run_ns),
                s.wakeups
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
