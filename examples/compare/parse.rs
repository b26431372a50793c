//! Reading what the measuring programs write: the load tools' JSON
//! reports, `strace -c`'s summary table and callgrind's instruction total.

use serde::de::DeserializeOwned;

/// The report `tool` printed with `--json`: the last line of its `stdout`
/// that is a JSON object, read into `T` (`LoadReport`, `IdleReport`).
/// `Ok(None)`: no such line.
pub fn json_report<T: DeserializeOwned>(tool: &str, stdout: &str) -> Result<Option<T>, String> {
    let Some(line) = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
    else {
        return Ok(None);
    };
    serde_json::from_str(line)
        .map(Some)
        .map_err(|e| format!("cannot read {tool}'s report: {e}: {line}"))
}

/// What `strace -c` counted.
pub struct StraceSummary {
    pub total: f64,
    /// `epoll_wait` and `epoll_pwait` calls.
    pub epoll_waits: f64,
    /// Writes that did not fail (write, send, sendto, sendmsg, writev).
    pub writes: f64,
    /// Calls per system call name.
    pub each: Vec<(String, f64)>,
}

pub fn parse_strace(text: &str) -> Result<StraceSummary, String> {
    let mut total = None;
    let mut epoll_waits = 0.0;
    let mut writes = 0.0;
    let mut each = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] name
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let (Ok(calls), Some(name)) = (fields[3].parse::<f64>(), fields.last()) else {
            continue;
        };
        let failed = match fields.len() {
            6 => fields[4].parse::<f64>().unwrap_or(0.0),
            _ => 0.0,
        };
        if *name == "total" {
            total = Some(calls);
        } else {
            if name.starts_with("epoll_wait") || name.starts_with("epoll_pwait") {
                epoll_waits += calls;
            }
            if ["write", "send", "sendto", "sendmsg", "writev"].contains(name) {
                writes += calls - failed;
            }
            each.push((name.to_string(), calls));
        }
    }
    Ok(StraceSummary {
        total: total.ok_or("no 'total' line in strace's summary")?,
        epoll_waits,
        writes,
        each,
    })
}

/// Total instructions (Ir) in a callgrind output file.
pub fn parse_callgrind(text: &str) -> Result<f64, String> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| "no 'totals:' or 'summary:' line in callgrind's output".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_reactor::tools::report::LoadReport;

    /// What echo-loadgen prints for a short ping-pong run: its table, then
    /// the JSON line.
    const LOADGEN_STDOUT: &str = "mode pingpong, 50 connections\n\
        {\"mode\":\"pingpong\",\"target\":\"127.0.0.1:40000\",\"connections\":50,\"size\":64,\
        \"depth\":null,\"threads\":1,\"rate\":null,\"warmup_s\":0.3,\"duration_s\":1.000,\
        \"messages\":150000,\"messages_per_s\":150000.5,\"bytes\":9600000,\"mb_per_s\":9.600,\
        \"gb_per_s\":0.010,\"latency_p50_us\":310.0,\"latency_p99_us\":590.5,\
        \"latency_p999_us\":900.0,\"latency_max_us\":1500.0,\"latency_mean_us\":330.2,\
        \"errors\":0,\"mismatched_chunks\":0,\"mismatched_bytes\":0,\"io_errors\":0,\"eofs\":0,\
        \"lost_connections\":0,\"lost_bytes\":0,\"overflows\":0,\"udp_timeout_ms\":null,\
        \"datagrams_sent\":null,\"lost_datagrams\":null,\"late_datagrams\":null,\
        \"mismatched_datagrams\":null,\"duplicated_datagrams\":null,\"reordered_datagrams\":null}\n";

    #[test]
    fn reads_loadgen_json_into_its_report_type() {
        let report: LoadReport = json_report("echo-loadgen", LOADGEN_STDOUT)
            .unwrap()
            .expect("a JSON line");
        assert_eq!(report.mode, "pingpong");
        assert_eq!(report.messages, Some(150_000));
        assert_eq!(report.messages_per_s, Some(150_000.5));
        assert_eq!(report.latency_p99_us, Some(590.5));
        assert_eq!(report.rate, None);
        assert_eq!(report.errors, 0);
    }

    #[test]
    fn a_broken_report_says_which_tool_and_what_is_wrong() {
        let cut = LOADGEN_STDOUT.replace("\"errors\":0,", "");
        let error = json_report::<LoadReport>("echo-loadgen", &cut).unwrap_err();
        assert!(
            error.starts_with("cannot read echo-loadgen's report: missing field `errors`"),
            "{error}"
        );
        let no_report = json_report::<LoadReport>("echo-loadgen", "a table only\n").unwrap();
        assert_eq!(no_report, None);
    }

    #[test]
    fn reads_strace_summary() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    \x2050.00    0.100000           1    100000           write\n\
                    \x2040.00    0.080000           1    100000       10 read\n\
                    \x2010.00    0.020000           1     20000           epoll_wait\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    100.00    0.200000           1    220000       10 total\n";
        let summary = parse_strace(text).unwrap();
        assert_eq!(summary.total, 220000.0);
        assert_eq!(summary.writes, 100000.0);
        assert_eq!(summary.epoll_waits, 20000.0);
        assert_eq!(summary.each.len(), 3);
    }
}
