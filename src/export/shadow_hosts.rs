//! The hosts of a Shadow configuration: names, IPs and processes, read from the
//! `processed-config.yaml` Shadow writes into its data directory (or a `shadow.yaml`).
//!
//! Only the `hosts:` section is read, by indentation, as Shadow's YAML emitter writes it
//! and as `export shadow` does: a host name at two spaces, its keys at four, each process
//! a `- ` item at four with its keys at six, `args` a string or a list of strings. That is
//! all a report needs (which host has which address, who connects where, when processes
//! start), and it avoids a YAML dependency for one well-known file layout.

use std::net::Ipv4Addr;

/// One process of a host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub path: String,
    /// The arguments, split as Shadow splits a string (on whitespace) or as listed.
    pub args: Vec<String>,
    /// When it starts, in ms of Shadow's clock (0 when the config does not say).
    pub start_ms: u64,
}

impl Process {
    /// The values given to `--flag` (each occurrence, in order).
    pub fn flag_values(&self, flag: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut args = self.args.iter();
        while let Some(a) = args.next() {
            if a == flag {
                if let Some(v) = args.next() {
                    out.push(v.as_str());
                }
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                out.push(v);
            }
        }
        out
    }

    /// The `gnutella` subcommand it runs (`peer`, `search`), if it runs one.
    pub fn subcommand(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }
}

/// One host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Host {
    pub name: String,
    pub ip: Option<Ipv4Addr>,
    pub processes: Vec<Process>,
}

/// The hosts of a Shadow config, in file order.
pub fn read_hosts(text: &str) -> Result<Vec<Host>, String> {
    let mut hosts: Vec<Host> = Vec::new();
    let mut in_hosts = false;
    // Inside a host: whether the lines belong to `processes`, and to a process's `args`.
    let (mut in_processes, mut in_args) = (false, false);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if indent == 0 {
            in_hosts = body == "hosts:";
            continue;
        }
        if !in_hosts {
            continue;
        }
        let place = || format!("line {}: {raw:?}", n + 1);
        if indent == 2 {
            let name = body
                .strip_suffix(':')
                .ok_or_else(|| format!("{}: expected a host name and a colon", place()))?;
            hosts.push(Host {
                name: unquote(name),
                ..Host::default()
            });
            (in_processes, in_args) = (false, false);
            continue;
        }
        let Some(host) = hosts.last_mut() else {
            return Err(format!("{}: a key before any host", place()));
        };
        if indent == 4 && !body.starts_with("- ") {
            in_args = false;
            let (key, value) = split_key(body);
            in_processes = key == "processes";
            if key == "ip_addr" {
                host.ip = Some(
                    unquote(value)
                        .parse()
                        .map_err(|_| format!("{}: not an IPv4 address", place()))?,
                );
            }
            continue;
        }
        if !in_processes {
            continue;
        }
        // A process item starts with `- ` at four (or two more, as some emitters do).
        let (item, body) = match body.strip_prefix("- ") {
            Some(rest) if indent == 4 || (indent == 6 && !in_args) => (true, rest),
            _ => (false, body),
        };
        if item {
            host.processes.push(Process::default());
            in_args = false;
        }
        let Some(process) = host.processes.last_mut() else {
            continue;
        };
        if !item && in_args && body.starts_with("- ") {
            process.args.push(unquote(&body[2..]));
            continue;
        }
        let (key, value) = split_key(body);
        in_args = false;
        match key {
            "path" => process.path = unquote(value),
            "args" if value.is_empty() => in_args = true,
            "args" => process.args = split_args(&unquote(value)),
            "start_time" => {
                process.start_ms =
                    time_ms(&unquote(value)).ok_or_else(|| format!("{}: not a time", place()))?
            }
            _ => {}
        }
    }
    Ok(hosts)
}

/// `key: value` (value empty for a block that follows).
fn split_key(body: &str) -> (&str, &str) {
    match body.split_once(':') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => (body.trim(), ""),
    }
}

/// A scalar without its quotes (double-quoted ones with JSON's escapes).
fn unquote(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        serde_json::from_str(v).unwrap_or_else(|_| v[1..v.len() - 1].to_string())
    } else if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].replace("''", "'")
    } else {
        v.to_string()
    }
}

/// An argument string split as Shadow does for `args: "..."`: on whitespace, with
/// single or double quotes grouping words.
fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut quote, mut any) = (None, false);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                }
                any = false;
            }
            (None, c) => current.push(c),
        }
    }
    if any || !current.is_empty() {
        args.push(current);
    }
    args
}

/// A Shadow time (`10 sec`, `1000 ms`, `2 min`, a bare number of seconds) in ms.
pub fn time_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let value: f64 = text[..split].trim().parse().ok()?;
    let per_ms = match text[split..].trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "ms" | "millisecond" | "milliseconds" => 1.0,
        "us" | "μs" | "microsecond" | "microseconds" => 0.001,
        "ns" | "nanosecond" | "nanoseconds" => 0.000_001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        _ => return None,
    };
    Some((value * per_ms).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_read_from_both_forms_of_args() {
        let text = r#"general:
  stop_time: 30 sec
network:
  graph:
    type: gml
    inline: |
      graph [
        node [
          id 0
        ]
      ]
hosts:
  client:
    network_node_id: 0
    processes:
    - path: /opt/gnutella/bin/gnutella
      args: search deep space --via 11.0.0.10:6346 --ttl 7
      environment: {}
      start_time: 10 sec
      expected_final_state:
        exited: 0
    ip_addr: 11.0.0.200
  p0:
    network_node_id: 0
    ip_addr: "11.0.0.10"
    processes:
    - path: "/opt/gnutella"
      args:
      - "peer"
      - "--search-at"
      - "5009:7:deep space"
      start_time: 1000 ms
"#;
        let hosts = read_hosts(text).unwrap();
        assert_eq!(hosts.len(), 2);
        let client = &hosts[0];
        assert_eq!(client.ip, Some(Ipv4Addr::new(11, 0, 0, 200)));
        assert_eq!(client.processes[0].start_ms, 10_000);
        assert_eq!(client.processes[0].flag_values("--via"), ["11.0.0.10:6346"]);
        assert_eq!(client.processes[0].subcommand(), Some("search"));
        let p0 = &hosts[1];
        assert_eq!(
            p0.processes[0].args,
            ["peer", "--search-at", "5009:7:deep space"]
        );
        assert_eq!(p0.processes[0].start_ms, 1000);
    }

    #[test]
    fn times_and_quotes() {
        assert_eq!(time_ms("1000 ms"), Some(1000));
        assert_eq!(time_ms("10 sec"), Some(10_000));
        assert_eq!(time_ms("3"), Some(3000));
        assert_eq!(time_ms("soon"), None);
        assert_eq!(split_args(r#"a "b c" 'd'"#), ["a", "b c", "d"]);
        assert!(read_hosts("hosts:\n  p0:\n    ip_addr: nowhere\n").is_err());
    }
}
