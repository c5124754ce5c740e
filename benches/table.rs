//! The performance table of issue 13, measured the way a user meets the server: the
//! release binary over stdio, driven like an editor (every `workspace/applyEdit` is
//! applied and its `didChange` sent before the reply), a model service on loopback
//! that answers at once over keep-alive HTTP, logs at `info` and no log file, a
//! generated Python file with accents, CJK and emoji. `cargo bench --bench table`
//! prints a Markdown table; the README ("Development") says what each row means.
//!
//! `CODEX_LSP_BENCH_BIN=/path/to/codex-lsp` measures another binary (an older commit's
//! release build, say); `CODEX_LSP_BENCH_QUICK=1` runs fewer iterations.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
// the table is this program's output; progress goes to stderr
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "table/doc.rs"]
mod doc;
#[path = "table/model.rs"]
mod model;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Mirror, Options, TestClient};
use doc::Doc;
use model::Model;
use serde_json::{Value, json};

/// How long one answer may take before the bench counts it as lost.
const PATIENCE: Duration = Duration::from_secs(30);
const BURST: usize = 2_000;

struct Config {
    bin: Option<PathBuf>,
    quick: bool,
}

impl Config {
    fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            bin: var("CODEX_LSP_BENCH_BIN").map(PathBuf::from),
            quick: var("CODEX_LSP_BENCH_QUICK").is_some_and(|v| v != "0"),
        }
    }

    fn n(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }

    fn bin_path(&self) -> PathBuf {
        self.bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_codex-lsp")))
    }
}

fn progress(what: &str) {
    eprintln!("[table] {what}");
}

// ---- statistics ----------------------------------------------------------------------

/// The `p`th percentile, linear between the two nearest samples.
fn pct(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let k = (v.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (k.floor() as usize, (k.ceil() as usize).min(v.len() - 1));
    v[lo] + (v[hi] - v[lo]) * (k - lo as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

// ---- one server, driven like an editor -------------------------------------------------

/// How one action went: codeAction sent → executeCommand answered.
struct Action {
    total: Duration,
    /// Spent by the editor between an applyEdit arriving and its reply going out.
    editor: Duration,
    /// Spent by the model service answering.
    model: Duration,
    outcome: Result<(), String>,
}

impl Action {
    fn server_share(&self) -> Duration {
        self.total.saturating_sub(self.editor + self.model)
    }
}

/// The refactor command among a code action answer's offers.
fn refactor_command(actions: &Value) -> Option<Value> {
    actions.as_array()?.iter().find_map(|a| {
        let cmd = if a["command"].is_object() {
            &a["command"]
        } else {
            a
        };
        (cmd["arguments"][0]["action"] == "refactor").then(|| cmd.clone())
    })
}

fn execute_params(cmd: &Value) -> Value {
    json!({"command": cmd["command"], "arguments": cmd["arguments"]})
}

fn outcome_of(answer: &Value) -> Result<(), String> {
    if let Some(e) = answer.get("error") {
        return Err(e["message"].as_str().unwrap_or("an error").to_owned());
    }
    match &answer["result"] {
        r if r["applied"] == true => Ok(()),
        r => Err(format!("answered {r}")),
    }
}

struct Session {
    c: TestClient,
    docs: HashMap<String, Doc>,
    /// applyEdits already applied to `docs`.
    seen_applies: usize,
    /// Lines already acted on, per document (each action gets a fresh line).
    used: HashMap<String, Vec<usize>>,
    rng: fastrand::Rng,
}

impl Session {
    async fn start(cfg: &Config, model: &Model) -> Self {
        let mut env = model.env();
        env.push(("CODEX_LSP_LOG".into(), "info".into()));
        let (c, _) = TestClient::start(Options {
            env,
            bin: cfg.bin.clone(),
            log_file: false,
            ..Options::default()
        })
        .await;
        // the mirror's text is the bench's Doc; rebuilding a 3 MB String per applyEdit
        // would be the editor's time, not the server's
        c.script(|s| s.track_text = false);
        Self {
            c,
            docs: HashMap::new(),
            seen_applies: 0,
            used: HashMap::new(),
            rng: fastrand::Rng::with_seed(7),
        }
    }

    fn pid(&self) -> u32 {
        self.c.child.id().unwrap_or(0)
    }

    async fn open(&mut self, rel: &str, doc: Doc) -> String {
        let uri = self.c.open(rel, &doc.text(), "python").await;
        self.docs.insert(uri.clone(), doc);
        uri
    }

    /// Brings the bench's copies up to date with the applyEdits answered since the last
    /// call (the editor's buffer, which the mirror does not hold here).
    fn follow_applies(&mut self) {
        let applies = self.c.server_requests("workspace/applyEdit");
        for params in &applies[self.seen_applies..] {
            for uri in doc::uris_of(params) {
                if let Some(d) = self.docs.get_mut(&uri) {
                    d.apply_workspace_edit(&uri, params);
                }
            }
        }
        self.seen_applies = applies.len();
    }

    fn fresh_line(&mut self, uri: &str) -> usize {
        let used = self.used.entry(uri.to_owned()).or_default();
        let l = self.docs[uri].pick_line(&mut self.rng, used);
        used.push(l);
        l
    }

    async fn answer(&self, rx: tokio::sync::oneshot::Receiver<Value>) -> Value {
        match tokio::time::timeout(PATIENCE, rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => json!({"error": {"message": "the server went away"}}),
            Err(_) => json!({"error": {"message": format!("no answer in {PATIENCE:?}")}}),
        }
    }

    async fn code_action(&self, uri: &str, line: usize) -> Value {
        let params = json!({"textDocument": {"uri": uri}, "range": self.docs[uri].line_range(line),
                            "context": {"diagnostics": []}});
        let (_, rx) = self.c.send_request("textDocument/codeAction", params).await;
        self.answer(rx).await
    }

    /// One action on a fresh line of `uri`: codeAction, then the refactor it offered.
    async fn action(&mut self, uri: &str, model: &Model) -> Action {
        let line = self.fresh_line(uri);
        let (applies, served) = (self.c.apply_arrivals().len(), model.served());
        let start = Instant::now();
        let offered = self.code_action(uri, line).await;
        let outcome = match refactor_command(&offered["result"]) {
            Some(cmd) => {
                let (_, rx) = self
                    .c
                    .send_request("workspace/executeCommand", execute_params(&cmd))
                    .await;
                outcome_of(&self.answer(rx).await)
            }
            None => Err(format!("no refactor offered: {offered}")),
        };
        let total = start.elapsed();
        let editor = self.editor_time_since(applies);
        self.follow_applies();
        Action {
            total,
            editor,
            model: model.inside_since(served),
            outcome,
        }
    }

    fn editor_time_since(&self, applies: usize) -> Duration {
        let (arrived, replied) = (self.c.apply_arrivals(), self.c.apply_replies());
        arrived
            .iter()
            .zip(&replied)
            .skip(applies)
            .map(|(a, r)| *r - *a)
            .sum()
    }

    /// 2,000 single-character didChanges written in one go, then a code action (the
    /// barrier: answered only after every change before it) and the refactor it offers.
    /// Returns (burst → code action answered, burst → action applied).
    async fn burst(&mut self, uri: &str) -> (Duration, Result<Duration, String>) {
        let mut version = self.c.mirror(uri).version;
        let mut bytes = Vec::new();
        let doc = self.docs.get_mut(uri).unwrap();
        for _ in 0..BURST {
            version += 1;
            let change = doc.random_edit(&mut self.rng);
            bytes.extend(common::frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}})));
        }
        // the editor's copy is the Doc; the mirror only needs the version for applyEdit
        self.c.set_mirror(
            uri,
            Mirror {
                text: String::new(),
                version,
            },
        );
        let line = self.fresh_line(uri);
        let start = Instant::now();
        self.c.write_raw(&bytes).await;
        let offered = self.code_action(uri, line).await;
        let barrier = start.elapsed();
        let Some(cmd) = refactor_command(&offered["result"]) else {
            return (barrier, Err(format!("no refactor offered: {offered}")));
        };
        let seen = cmd["arguments"][0]["version"].as_i64();
        if seen.is_some_and(|v| v != i64::from(version)) {
            return (
                barrier,
                Err(format!(
                    "the code action saw version {seen:?}, not {version}"
                )),
            );
        }
        let (_, rx) = self
            .c
            .send_request("workspace/executeCommand", execute_params(&cmd))
            .await;
        let outcome = outcome_of(&self.answer(rx).await);
        let applied = start.elapsed();
        self.follow_applies();
        (barrier, outcome.map(|()| applied))
    }

    /// Ten actions started together: ten code actions sent at once, then the ten
    /// commands they offered, at once, in the same order. `uris` has one entry per
    /// action (ten times one file, or ten files).
    async fn together(&mut self, uris: &[String]) -> Round {
        let lines: Vec<usize> = uris.iter().map(|u| self.fresh_line(u)).collect();
        let applies = self.c.server_requests("workspace/applyEdit").len();
        let start = Instant::now();
        let mut offers = Vec::new();
        for (uri, line) in uris.iter().zip(&lines) {
            let params = json!({"textDocument": {"uri": uri}, "range": self.docs[uri].line_range(*line),
                                "context": {"diagnostics": []}});
            offers.push(
                self.c
                    .send_request("textDocument/codeAction", params)
                    .await
                    .1,
            );
        }
        let mut commands = Vec::new();
        for rx in offers {
            commands.push(refactor_command(&self.answer(rx).await["result"]));
        }
        let mut pending = Vec::new();
        for cmd in &commands {
            match cmd {
                Some(cmd) => {
                    let (_, rx) = self
                        .c
                        .send_request("workspace/executeCommand", execute_params(cmd))
                        .await;
                    pending.push(Some(rx));
                }
                None => pending.push(None),
            }
        }
        let mut outcomes = Vec::new();
        for rx in pending {
            outcomes.push(match rx {
                Some(rx) => outcome_of(&self.answer(rx).await),
                None => Err("no refactor offered".to_owned()),
            });
        }
        let wall = start.elapsed();
        // which action each applyEdit belongs to: its document and the line it edits
        let arrived: Vec<Option<usize>> = self.c.server_requests("workspace/applyEdit")[applies..]
            .iter()
            .map(|p| {
                let uri = doc::uris_of(p).into_iter().next()?;
                let line = doc::edits_for(&uri, p)
                    .first()?
                    .pointer("/range/start/line")?
                    .as_u64()? as usize;
                uris.iter()
                    .zip(&lines)
                    .position(|(u, l)| *u == uri && *l == line)
            })
            .collect();
        self.follow_applies();
        let applied = outcomes.iter().filter(|o| o.is_ok()).count();
        let in_order =
            arrived.windows(2).all(|w| w[0] < w[1]) && arrived.iter().all(Option::is_some);
        Round {
            applied,
            in_order,
            wall,
            errors: outcomes.into_iter().filter_map(Result::err).collect(),
        }
    }

    async fn shutdown(self) {
        self.c.shutdown().await;
    }
}

struct Round {
    applied: usize,
    in_order: bool,
    wall: Duration,
    errors: Vec<String>,
}

// ---- the measurements ------------------------------------------------------------------

#[derive(Default)]
struct SizeResult {
    lines: usize,
    text_mib: f64,
    rss_open: Vec<f64>,
    rss_action: Vec<f64>,
    burst_barrier: Vec<f64>,
    burst_applied: Vec<f64>,
    overhead: Vec<f64>,
    end_to_end: Vec<f64>,
    one_file: Vec<Round>,
    ten_files: Vec<Round>,
    /// Odd things seen: failed actions, refusals, errors.
    notes: Vec<String>,
}

fn note_failures(notes: &mut Vec<String>, what: &str, errors: impl IntoIterator<Item = String>) {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in errors {
        match counts.iter_mut().find(|(m, _)| *m == e) {
            Some((_, n)) => *n += 1,
            None => counts.push((e, 1)),
        }
    }
    let more = counts.len().saturating_sub(5);
    for (m, n) in counts.into_iter().take(5) {
        notes.push(format!("{what}: {n}× {m}"));
    }
    if more > 0 {
        notes.push(format!("{what}: and {more} other messages"));
    }
}

/// How much the server logged at info (a user's stderr), and its warnings and errors.
fn note_log(notes: &mut Vec<String>, stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    notes.push(format!(
        "the last server logged {} lines ({} bytes) at info",
        lines.len(),
        stderr.len()
    ));
    let odd = lines
        .iter()
        .filter_map(|l| {
            l.find(" WARN ")
                .or_else(|| l.find(" ERROR "))
                .map(|i| &l[i + 1..])
        })
        .map(|l| l.chars().take(200).collect::<String>());
    note_failures(notes, "server log", odd);
}

async fn measure_size(cfg: &Config, model: &Model, lines: usize) -> SizeResult {
    let label = format!("{}k lines", lines / 1000);
    let original = doc::python(lines, &mut fastrand::Rng::with_seed(1));
    let text_bytes = original.text().len();
    let mut r = SizeResult {
        lines,
        text_mib: text_bytes as f64 / (1024.0 * 1024.0),
        ..SizeResult::default()
    };
    let rel = "src/app/services/bench_doc.py";
    let copy = || Doc {
        lines: original.lines.clone(),
    };

    // memory after opening, and after the first (cold) action; fresh servers
    let spawns = cfg.n(5, 1);
    let mut kept = None;
    for i in 0..spawns {
        progress(&format!(
            "{label}: open and first action ({}/{spawns})",
            i + 1
        ));
        let mut s = Session::start(cfg, model).await;
        let uri = s.open(rel, copy()).await;
        let barrier = s.code_action(&uri, lines / 2).await;
        if barrier.get("error").is_some() {
            r.notes.push(format!("barrier after didOpen: {barrier}"));
        }
        r.rss_open.push(rss_mib(s.pid()));
        let a = s.action(&uri, model).await;
        if let Err(e) = a.outcome {
            r.notes.push(format!("first action: {e}"));
        }
        r.rss_action.push(rss_mib(s.pid()));
        if i + 1 == spawns {
            kept = Some((s, uri));
        } else {
            s.shutdown().await;
        }
    }
    let (mut s, uri) = kept.unwrap();

    progress(&format!("{label}: didChange bursts"));
    let mut failures = Vec::new();
    for _ in 0..cfg.n(15, 2) {
        let (barrier, applied) = s.burst(&uri).await;
        r.burst_barrier.push(ms(barrier));
        match applied {
            Ok(d) => r.burst_applied.push(ms(d)),
            Err(e) => failures.push(e),
        }
    }
    note_failures(&mut r.notes, "action after a burst", failures);

    progress(&format!("{label}: sequential actions"));
    let mut failures = Vec::new();
    for _ in 0..cfg.n(300, 20) {
        let a = s.action(&uri, model).await;
        match &a.outcome {
            Ok(()) => {
                r.overhead.push(ms(a.server_share()));
                r.end_to_end.push(ms(a.total));
            }
            Err(e) => failures.push(e.clone()),
        }
    }
    note_failures(&mut r.notes, "sequential action", failures);

    progress(&format!("{label}: ten actions on one file"));
    let rounds = cfg.n(15, 2);
    for _ in 0..rounds {
        let round = s.together(&vec![uri.clone(); 10]).await;
        r.one_file.push(round);
    }
    let errors: Vec<String> = r.one_file.iter().flat_map(|x| x.errors.clone()).collect();
    note_failures(&mut r.notes, "ten on one file", errors);

    progress(&format!("{label}: ten actions on ten files"));
    let mut uris = Vec::new();
    for i in 0..10 {
        uris.push(s.open(&format!("src/app/m{i}/bench_doc.py"), copy()).await);
    }
    // every file opened before the clock starts
    let _ = s.code_action(&uris[9], lines / 2).await;
    for _ in 0..rounds {
        let round = s.together(&uris).await;
        r.ten_files.push(round);
    }
    let errors: Vec<String> = r.ten_files.iter().flat_map(|x| x.errors.clone()).collect();
    note_failures(&mut r.notes, "ten on ten files", errors);
    note_log(&mut r.notes, &s.c.stderr.lock().unwrap());
    s.shutdown().await;
    r
}

async fn startup(cfg: &Config, model: &Model) -> Vec<f64> {
    progress("startup");
    let mut samples = Vec::new();
    for _ in 0..cfg.n(30, 5) {
        let s = Session::start(cfg, model).await;
        samples.push(ms(s.c.startup));
        s.shutdown().await;
    }
    samples
}

// ---- the table ---------------------------------------------------------------------------

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// Applied per round (the fewest when rounds differ), rounds in order (for one
/// file), the wall time's p50.
fn rounds_cell(rounds: &[Round], order: bool) -> String {
    let least = rounds.iter().map(|r| r.applied).min().unwrap_or(0);
    let most = rounds.iter().map(|r| r.applied).max().unwrap_or(0);
    let applied = if least == most {
        format!("{least} of 10")
    } else {
        format!("{least}–{most} of 10")
    };
    // order says something only where two or more were applied
    let several: Vec<&Round> = rounds.iter().filter(|r| r.applied >= 2).collect();
    let ordered = several.iter().filter(|r| r.in_order).count();
    let order = if order && !several.is_empty() {
        format!(", in order in {ordered} of {} rounds", several.len())
    } else {
        String::new()
    };
    let walls: Vec<f64> = rounds.iter().map(|r| ms(r.wall)).collect();
    format!("{applied} applied{order}; wall {:.1} ms", pct(&walls, 50.0))
}

fn all_applied_in_order(rounds: &[Round]) -> bool {
    !rounds.is_empty() && rounds.iter().all(|r| r.applied == 10 && r.in_order)
}

fn print_table(cfg: &Config, sizes: &[SizeResult], start: &[f64], took: Duration) {
    let bin = cfg.bin_path();
    let version = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let (small, big) = (&sizes[0], &sizes[1]);
    let both = |f: &dyn Fn(&SizeResult) -> String| (f(small), f(big));
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let mut row = |m: &str, (a, b): (String, String), goal: String| {
        rows.push((m.to_owned(), a, b, goal));
    };

    let per_change = |s: &SizeResult| pct(&s.burst_barrier, 50.0) * 1e3 / BURST as f64;
    row(
        &format!(
            "µs per `didChange` ({BURST}-edit burst; burst → code action answered ÷ {BURST}), p50"
        ),
        both(&|s| format!("{:.1}", per_change(s))),
        format!("≤ 3 at 100k {}", mark(per_change(big) <= 3.0)),
    );
    let barrier = |s: &SizeResult| pct(&s.burst_barrier, 50.0);
    row(
        "burst → next answer (the code action), p50",
        both(&|s| format!("{:.1} ms", barrier(s))),
        format!("≤ 8 ms at 100k {}", mark(barrier(big) <= 8.0)),
    );
    row(
        "burst → next action applied (code action + executeCommand), p50",
        both(&|s| format!("{:.1} ms", pct(&s.burst_applied, 50.0))),
        "—".into(),
    );
    let p50 = |s: &SizeResult| pct(&s.overhead, 50.0);
    row(
        "action overhead, server's share, p50 / p90 (codeAction → executeCommand answered, applied)",
        both(&|s| format!("{:.2} / {:.2} ms", p50(s), pct(&s.overhead, 90.0))),
        format!(
            "≤ 0.5 / ≤ 0.6 ms (p50) {} {}",
            mark(p50(small) <= 0.5),
            mark(p50(big) <= 0.6)
        ),
    );
    row(
        "same, end to end (with the editor's apply and the model), p50",
        both(&|s| format!("{:.2} ms", pct(&s.end_to_end, 50.0))),
        "—".into(),
    );
    row(
        "ten actions started together on one file",
        both(&|s| rounds_cell(&s.one_file, true)),
        format!(
            "10 of 10, in order {} {}",
            mark(all_applied_in_order(&small.one_file)),
            mark(all_applied_in_order(&big.one_file))
        ),
    );
    row(
        "ten actions started together on ten files",
        both(&|s| rounds_cell(&s.ten_files, false)),
        format!(
            "10 of 10 {} {}",
            mark(small.ten_files.iter().all(|r| r.applied == 10)),
            mark(big.ten_files.iter().all(|r| r.applied == 10))
        ),
    );
    let goal = |s: &SizeResult| 1.5 * s.text_mib + 12.0;
    let rss = |s: &SizeResult| pct(&s.rss_open, 50.0);
    row(
        "RSS after opening the file (text size; goal 1.5 × text + 12 MiB)",
        both(&|s| {
            format!(
                "{:.1} MiB ({:.2} MiB text; goal {:.1})",
                rss(s),
                s.text_mib,
                goal(s)
            )
        }),
        format!(
            "≤ 1.5 × text + 12 MiB {} {}",
            mark(rss(small) <= goal(small)),
            mark(rss(big) <= goal(big))
        ),
    );
    row(
        "RSS after the first action",
        both(&|s| format!("{:.1} MiB", pct(&s.rss_action, 50.0))),
        "—".into(),
    );
    let st = pct(start, 50.0);
    rows.push((
        format!(
            "startup → `initialize` answered, p50 of {} spawns",
            start.len()
        ),
        format!("{st:.2} ms"),
        String::new(),
        format!("≤ 3 ms {}", mark(st <= 3.0)),
    ));

    println!();
    println!(
        "codex-lsp table bench — {} ({version}){}",
        bin.display(),
        if cfg.quick { ", quick" } else { "" }
    );
    println!();
    println!(
        "| measure | {}k lines | {}k lines | goal (issue 13) |",
        small.lines / 1000,
        big.lines / 1000
    );
    println!("|---|---|---|---|");
    for (m, a, b, g) in &rows {
        println!("| {m} | {a} | {b} | {g} |");
    }
    println!();
    println!(
        "samples per size: {} bursts, {} sequential actions, {} rounds of ten, {} spawns for RSS; run took {:.1} s",
        small.burst_barrier.len(),
        small.overhead.len(),
        small.one_file.len(),
        small.rss_open.len(),
        took.as_secs_f64()
    );
    for s in sizes {
        for n in &s.notes {
            println!("- {}k lines: {n}", s.lines / 1000);
        }
    }
}

fn main() {
    let cfg = Config::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let began = Instant::now();
    let (sizes, start) = rt.block_on(async {
        let model = Model::start().await;
        let start = startup(&cfg, &model).await;
        let mut sizes = Vec::new();
        for lines in [10_000, 100_000] {
            sizes.push(measure_size(&cfg, &model, lines).await);
        }
        (sizes, start)
    });
    print_table(&cfg, &sizes, &start, began.elapsed());
}
