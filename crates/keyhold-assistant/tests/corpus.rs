//! The corpus: sentences as people type them (`tests/assistant/corpus.jsonl`, one `{"say": ..., "expect":
//! ...}` a line), each with the intent it must give. An acting intent (create, revoke, list,
//! rotate) must match exactly; a refusal, question or help must be of the expected kind and,
//! when the line gives its text, contain it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use keyhold_assistant::parse;
use serde_json::Value;

const CORPUS: &str = include_str!("assistant/corpus.jsonl");

fn lines() -> Vec<(String, Value)> {
    CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["say"].as_str().unwrap().to_owned(), v["expect"].clone())
        })
        .collect()
}

fn matches(expect: &Value, got: &Value) -> bool {
    if expect["intent"] != got["intent"] {
        return false;
    }
    match expect["intent"].as_str().unwrap() {
        "refuse" | "clarify" | "unknown" => {
            let field = match expect["intent"].as_str().unwrap() {
                "refuse" => "reason",
                "clarify" => "question",
                _ => "help",
            };
            match expect.get(field).and_then(Value::as_str) {
                Some(part) => got[field]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&part.to_lowercase()),
                None => true,
            }
        }
        _ => expect == got,
    }
}

#[test]
fn every_sentence_gives_its_intent() {
    let mut wrong = Vec::new();
    for (say, expect) in lines() {
        let json = parse(&say).to_json();
        let got: Value = serde_json::from_str(&json).expect("to_json is JSON");
        if !matches(&expect, &got) {
            wrong.push(format!("{say:?}\n  expected {expect}\n  got      {json}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_corpus_is_large_and_covers_the_product_page() {
    let lines = lines();
    assert!(lines.len() >= 200, "{} lines", lines.len());
    for (say, intent) in [
        (
            "Create an API key for the mobile app with 30-day expiry",
            "create_key",
        ),
        ("Revoke all API keys for this workspace", "revoke_all"),
    ] {
        assert!(
            lines.iter().any(|(s, e)| s == say && e["intent"] == intent),
            "missing: {say}"
        );
    }
    for kind in [
        "create_key",
        "revoke_key",
        "revoke_all",
        "list_keys",
        "rotate_connection",
        "refuse",
        "clarify",
        "unknown",
    ] {
        let n = lines.iter().filter(|(_, e)| e["intent"] == kind).count();
        assert!(n >= 8, "only {n} lines expect {kind}");
    }
}

#[test]
fn the_product_page_examples_give_exactly_the_documented_json() {
    assert_eq!(
        parse("Create an API key for the mobile app with 30-day expiry").to_json(),
        r#"{"intent":"create_key","name":"mobile app","expires":"30d","scopes":[]}"#
    );
    assert_eq!(
        parse("Revoke all API keys for this workspace").to_json(),
        r#"{"intent":"revoke_all"}"#
    );
}
