//! Azi's parse time per sentence, over every phrasing of the assistant's corpus (harness: plain
//! `main`, prints percentiles): each sentence parsed in a loop, its time per parse taken, then
//! the p50 and p99 over the corpus — next to a baseline measured the same way in the same run,
//! the least any reader of a sentence does (lower-case it and split it into words).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Instant;

const LOOPS: u32 = 2_000;

fn per_call(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..LOOPS {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(LOOPS)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/keyhold-assistant/tests/assistant/corpus.jsonl"
    );
    let sentences: Vec<String> = std::fs::read_to_string(path)
        .expect("the corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a corpus line");
            v["say"].as_str().expect("say").to_owned()
        })
        .collect();
    let (mut parse, mut base, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for s in &sentences {
        let b = per_call(&mut || {
            black_box(
                black_box(s.as_str())
                    .to_lowercase()
                    .split_whitespace()
                    .count(),
            );
        });
        let p = per_call(&mut || {
            black_box(keyhold_assistant::parse(black_box(s)));
        });
        base.push(b);
        parse.push(p);
        ratio.push(p / b);
    }
    println!("{} sentences, {LOOPS} parses each:", sentences.len());
    for (label, v) in [
        ("parse", &mut parse),
        ("baseline (lower-case + split)", &mut base),
    ] {
        let (p50, p99) = (percentile(v, 0.5), percentile(v, 0.99));
        println!(
            "  {label:<30} p50 {:>7.2} us   p99 {:>7.2} us",
            p50 * 1e6,
            p99 * 1e6
        );
    }
    println!(
        "  parse / baseline, per sentence: p50 {:.1}x, p99 {:.1}x",
        percentile(&mut ratio, 0.5),
        percentile(&mut ratio, 0.99)
    );
}
