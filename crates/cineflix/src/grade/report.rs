//! The grade report in three forms: a text table for the terminal, Markdown (`grade.md`) and JUnit XML
//! (`grade.xml`, written with quick-xml's `Writer`, which escapes text and attribute values), plus `--json`.
//!
//! Deliberately not here: deciding verdicts (the cases do) or running anything.

use super::{Outcome, Verdict};
use crate::json::Json;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::time::Duration;

/// Counts over all outcomes.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub duration: Duration,
}

impl Summary {
    pub fn of(outcomes: &[Outcome], duration: Duration) -> Summary {
        let count = |verdict: Verdict| outcomes.iter().filter(|outcome| outcome.verdict == verdict).count();
        Summary {
            total: outcomes.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            skipped: count(Verdict::Skip),
            duration,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} cases: {} passed, {} FAILED, {} skipped (not counted as passed) in {:.1} s",
            self.total,
            self.passed,
            self.failed,
            self.skipped,
            self.duration.as_secs_f64()
        )
    }
}

/// Cuts `text` to `width` characters with an ellipsis, for the terminal table only.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// The terminal table; long texts are cut (the Markdown and XML reports keep them whole).
pub fn table(outcomes: &[Outcome], summary: &Summary) -> String {
    let mut out =
        format!("{:<4} {:<44} {:<44} {:<60} {:<6} {:>8}\n", "ID", "SCENARIO", "EXPECTED", "OBSERVED", "RESULT", "TIME");
    for outcome in outcomes {
        out.push_str(&format!(
            "{:<4} {:<44} {:<44} {:<60} {:<6} {:>6}ms\n",
            outcome.id,
            fit(&outcome.scenario, 44),
            fit(&outcome.expected, 44),
            fit(&outcome.observed, 60),
            outcome.verdict.as_str(),
            outcome.duration_ms
        ));
    }
    for outcome in outcomes.iter().filter(|outcome| outcome.verdict != Verdict::Pass) {
        out.push_str(&format!(
            "\n{} {}: {}\n  expected: {}\n  observed: {}\n",
            outcome.verdict.as_str(),
            outcome.id,
            outcome.scenario,
            outcome.expected,
            outcome.observed
        ));
    }
    out.push_str(&format!("\n{}\n", summary.line()));
    out
}

/// A Markdown table cell: pipes escaped, line breaks and control characters flattened.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn markdown(outcomes: &[Outcome], summary: &Summary) -> String {
    let mut out = String::from("# cineflix grade\n\n");
    out.push_str(&format!("{}\n\n", summary.line()));
    out.push_str("| id | group | scenario | expected | observed | result | time (ms) |\n");
    out.push_str("|---|---|---|---|---|---|---:|\n");
    for outcome in outcomes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&outcome.id),
            outcome.group,
            cell(&outcome.scenario),
            cell(&outcome.expected),
            cell(&outcome.observed),
            if outcome.verdict == Verdict::Pass {
                "PASS".to_owned()
            } else {
                format!("**{}**", outcome.verdict.as_str())
            },
            outcome.duration_ms
        ));
    }
    out
}

/// Text XML 1.0 may carry: other control characters become U+FFFD (quick-xml escapes markup, not these).
fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// JUnit XML: one `testsuite` per group inside `testsuites`; `failure` and `skipped` elements carry the observation.
pub fn junit(outcomes: &[Outcome], summary: &Summary) -> std::io::Result<String> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut groups: Vec<&'static str> = Vec::new();
    for outcome in outcomes {
        if !groups.contains(&outcome.group) {
            groups.push(outcome.group);
        }
    }
    let (tests, failures, skipped) =
        (summary.total.to_string(), summary.failed.to_string(), summary.skipped.to_string());
    let total_time = format!("{:.3}", summary.duration.as_secs_f64());
    writer
        .create_element("testsuites")
        .with_attribute(("name", "cineflix grade"))
        .with_attribute(("tests", tests.as_str()))
        .with_attribute(("failures", failures.as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("skipped", skipped.as_str()))
        .with_attribute(("time", total_time.as_str()))
        .write_inner_content(|writer| {
            for group in &groups {
                let mine: Vec<&Outcome> = outcomes.iter().filter(|outcome| outcome.group == *group).collect();
                let count =
                    |verdict: Verdict| mine.iter().filter(|outcome| outcome.verdict == verdict).count().to_string();
                let time = seconds(mine.iter().map(|outcome| outcome.duration_ms).sum());
                let (tests, failures, skips) = (mine.len().to_string(), count(Verdict::Fail), count(Verdict::Skip));
                let name = format!("cineflix.grade.{group}");
                writer
                    .create_element("testsuite")
                    .with_attribute(("name", name.as_str()))
                    .with_attribute(("tests", tests.as_str()))
                    .with_attribute(("failures", failures.as_str()))
                    .with_attribute(("errors", "0"))
                    .with_attribute(("skipped", skips.as_str()))
                    .with_attribute(("time", time.as_str()))
                    .write_inner_content(|writer| {
                        for outcome in mine {
                            write_case(writer, outcome, &name)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let mut xml = String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it is given");
    xml.push('\n');
    Ok(xml)
}

fn write_case(writer: &mut Writer<Vec<u8>>, outcome: &Outcome, classname: &str) -> std::io::Result<()> {
    let name = xml_text(&format!("{} {}", outcome.id, outcome.scenario));
    let time = seconds(outcome.duration_ms);
    writer
        .create_element("testcase")
        .with_attribute(("classname", classname))
        .with_attribute(("name", name.as_str()))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|writer| {
            writer.create_element("properties").write_inner_content(|writer| {
                let expected = xml_text(&outcome.expected);
                writer
                    .create_element("property")
                    .with_attribute(("name", "expected"))
                    .with_attribute(("value", expected.as_str()))
                    .write_empty()?;
                let deployment = xml_text(&outcome.deployment);
                writer
                    .create_element("property")
                    .with_attribute(("name", "deployment"))
                    .with_attribute(("value", deployment.as_str()))
                    .write_empty()?;
                for code in &outcome.codes {
                    writer
                        .create_element("property")
                        .with_attribute(("name", "code"))
                        .with_attribute(("value", *code))
                        .write_empty()?;
                }
                Ok(())
            })?;
            let observed = xml_text(&outcome.observed);
            match outcome.verdict {
                Verdict::Pass => {
                    writer.create_element("system-out").write_text_content(BytesText::new(&observed))?;
                }
                Verdict::Fail => {
                    let message = xml_text(&format!("expected {}; observed {}", outcome.expected, outcome.observed));
                    writer
                        .create_element("failure")
                        .with_attribute(("message", message.as_str()))
                        .write_text_content(BytesText::new(&observed))?;
                }
                Verdict::Skip => {
                    writer.create_element("skipped").with_attribute(("message", observed.as_str())).write_empty()?;
                }
            }
            Ok(())
        })?;
    Ok(())
}

pub fn json(outcomes: &[Outcome], summary: &Summary) -> String {
    let cases: Vec<Json> = outcomes
        .iter()
        .map(|outcome| {
            Json::object()
                .with("id", outcome.id.as_str())
                .with("group", outcome.group)
                .with("scenario", outcome.scenario.as_str())
                .with("expected", outcome.expected.as_str())
                .with("observed", outcome.observed.as_str())
                .with("result", outcome.verdict.as_str())
                .with("time_ms", outcome.duration_ms)
                .with("codes", Json::Array(outcome.codes.iter().map(|code| Json::from(*code)).collect()))
                .with("deployment", outcome.deployment.as_str())
        })
        .collect();
    let rendered = Json::object()
        .with("total", summary.total as u64)
        .with("passed", summary.passed as u64)
        .with("failed", summary.failed as u64)
        .with("skipped", summary.skipped as u64)
        .with("duration_s", summary.duration.as_secs_f64())
        .with("cases", cases)
        .render();
    format!("{rendered}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str, verdict: Verdict, observed: &str) -> Outcome {
        Outcome {
            id: id.to_owned(),
            group: "functional",
            scenario: "book <3> & \"quote\" | pipe".to_owned(),
            expected: "OK | SOLD_OUT".to_owned(),
            observed: observed.to_owned(),
            verdict,
            duration_ms: 1234,
            codes: vec!["OK", "SOLD_OUT"],
            deployment: "http://127.0.0.1:1/cineflix?a=1&b=2".to_owned(),
        }
    }

    #[test]
    fn markdown_escapes_pipes_and_flattens_lines() {
        let outcomes = [outcome("F01", Verdict::Pass, "a\nb|c"), outcome("F02", Verdict::Fail, "x")];
        let summary = Summary::of(&outcomes, Duration::from_secs(2));
        let text = markdown(&outcomes, &summary);
        assert!(
            text.contains(
                "| F01 | functional | book <3> & \"quote\" \\| pipe | OK \\| SOLD_OUT | a b\\|c | PASS | 1234 |"
            ),
            "{text}"
        );
        assert!(text.contains("| **FAIL** |"), "{text}");
        assert!(text.contains("2 cases: 1 passed, 1 FAILED, 0 skipped"), "{text}");
        // Every table row has the same number of unescaped cell separators.
        let rows: Vec<&str> = text.lines().filter(|line| line.starts_with('|')).collect();
        let separators = |line: &str| line.replace("\\|", "").matches('|').count();
        assert!(rows.iter().all(|row| separators(row) == 8), "{rows:?}");
    }

    #[test]
    fn junit_escapes_markup_and_drops_forbidden_characters() {
        let outcomes = [
            outcome("F01", Verdict::Pass, "fine"),
            outcome("F02", Verdict::Fail, "got <SOLD_OUT> & \"more\"\u{1}"),
            outcome("R01", Verdict::Skip, "needs --config"),
        ];
        let summary = Summary::of(&outcomes, Duration::from_millis(3500));
        let xml = junit(&outcomes, &summary).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
        assert!(xml.contains(r#"tests="3" failures="1" errors="0" skipped="1" time="3.500""#), "{xml}");
        assert!(xml.contains("name=\"F01 book &lt;3&gt; &amp; &quot;quote&quot; | pipe\""), "{xml}");
        assert!(xml.contains("got &lt;SOLD_OUT&gt; &amp; &quot;more&quot;\u{FFFD}</failure>"), "{xml}");
        assert!(!xml.contains('\u{1}'), "{xml}");
        assert!(xml.contains(r#"<skipped message="needs --config"/>"#), "{xml}");
        assert!(xml.contains(r#"<property name="code" value="SOLD_OUT"/>"#), "{xml}");
        assert!(xml.contains("value=\"http://127.0.0.1:1/cineflix?a=1&amp;b=2\""), "{xml}");
        // The document reads back as well-formed XML with the same texts.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut failure_text = String::new();
        let mut in_failure = false;
        loop {
            match reader.read_event().expect("well-formed") {
                Event::Eof => break,
                Event::Start(start) if start.name().as_ref() == "failure" => in_failure = true,
                Event::End(end) if end.name().as_ref() == "failure" => in_failure = false,
                Event::Text(text) if in_failure => failure_text.push_str(&text.xml10_content()),
                Event::GeneralRef(reference) if in_failure => {
                    failure_text.push_str(match &*reference {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        other => panic!("unexpected entity {other:?}"),
                    });
                }
                _ => {}
            }
        }
        assert_eq!(failure_text, "got <SOLD_OUT> & \"more\"\u{FFFD}");
    }

    #[test]
    fn table_cuts_long_texts_and_lists_non_passes() {
        let long = "x".repeat(200);
        let outcomes = [outcome("F01", Verdict::Pass, &long), outcome("R01", Verdict::Skip, "needs --config")];
        let summary = Summary::of(&outcomes, Duration::from_secs(1));
        let text = table(&outcomes, &summary);
        assert!(text.lines().nth(1).unwrap().contains('…'), "{text}");
        assert!(text.contains("SKIP R01"), "{text}");
        assert!(text.trim_end().ends_with("in 1.0 s"), "{text}");
    }
}
