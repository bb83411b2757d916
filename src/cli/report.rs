//! `gnutella report shadow`: a Shadow run's outputs as the report `launch` writes.

use std::path::PathBuf;

use gnutella::export::shadow_report;
use gnutella::net::network::NetTotals;
use gnutella::net::report::{report_json, write_report, NetworkSummary};
use gnutella::node::record::QueryRecord;

/// Runs whose outputs can be read into a report.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read Shadow's per-host outputs (DATA/hosts/<host>/*.stdout) into the report.
    Shadow(ShadowArgs),
}

/// Arguments of `gnutella report shadow`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gnutella report shadow data/shadow-sample
      a recorded run (20 peers and a searcher host): the searcher's view of its search
  gnutella report shadow data/shadow-sample --json --out report.json
      the report as JSON, also written to report.json

On the data directory of a run of `gnutella export shadow` (DIR/shadow.data) every
query's record is the sum of the peers' counters lines, as `launch --report` writes it.

The report is {\"network\": {name, peers, links, processes, ...}, \"queries\": [...],
\"shadow\": {peers_with_counters, notes}}: the records are those of `launch --report` and
`sim --json` (messages, duplicates, peers_reached, hits, first_hit_hops, first_hit_ms, ...),
so the three runs of one config compare line by line. start_ms is in Shadow's clock.")]
pub struct ShadowArgs {
    /// Shadow's data directory (shadow.data; `export shadow` sets it to DIR/shadow.data).
    pub dir: PathBuf,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Shadow(args) => run_shadow(args),
    }
}

fn run_shadow(args: ShadowArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = &args.out {
        gnutella::validate::check_output_file(path).map_err(|e| format!("--out: {e}"))?;
    }
    let run = shadow_report::read(&args.dir)?;
    let totals: NetTotals = serde_json::to_value(&run.totals)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    let summary = NetworkSummary {
        name: format!("shadow run {}", args.dir.display()),
        peers: run.peers.len(),
        links: run.links,
        processes: run.processes,
        totals,
        ..NetworkSummary::default()
    };
    let mut report = report_json(&summary, &[]);
    if let Some(map) = report.as_object_mut() {
        map.insert("queries".into(), run.queries.clone().into());
        map.insert(
            "shadow".into(),
            serde_json::json!({
                "peers_with_counters": run.peers_with_counters,
                "notes": run.notes,
            }),
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} peers ({} with counters), {} links, {} processes, {} queries",
            run.peers.len(),
            run.peers_with_counters,
            run.links,
            run.processes,
            run.queries.len()
        );
        print!("{}", table(&run.queries));
        for note in &run.notes {
            println!("note: {note}");
        }
    }
    if let Some(path) = &args.out {
        write_report(path, &report).map_err(|e| format!("--out {}: {e}", path.display()))?;
        if !args.json {
            println!("report written to {}", path.display());
        }
    }
    Ok(())
}

/// The flooding table of `launch`, with `-` for what a searcher's view does not know.
fn table(queries: &[serde_json::Value]) -> String {
    let records: Vec<QueryRecord> = queries
        .iter()
        .filter_map(|q| serde_json::from_value(q.clone()).ok())
        .collect();
    if records.len() == queries.len() {
        return gnutella::net::report::flooding_table(&records);
    }
    let mut out = format!(
        "{:<28} {:>8} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
        "query", "messages", "reached", "hits", "responders", "1st hops", "1st ms"
    );
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Number(n) if n.is_f64() => format!("{:.1}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    };
    for q in queries {
        let query: String = q["query"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(28)
            .collect();
        out.push_str(&format!(
            "{:<28} {:>8} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
            query,
            cell(&q["messages"]),
            cell(&q["peers_reached"]),
            cell(&q["hits"]),
            cell(&q["responders"]),
            cell(&q["first_hit_hops"]),
            cell(&q["first_hit_ms"])
        ));
    }
    out
}
