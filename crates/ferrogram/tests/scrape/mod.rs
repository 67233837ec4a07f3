//! Reading a Prometheus text exposition (`/metrics`), for the tests that scrape one: every
//! sample parsed into its name, labels and value, so a test asserts exact counts.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

/// The samples of an exposition: `(name, labels) -> value`.
pub type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the text; a line that is not a comment, blank or `name{labels} value` fails the test.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("closed labels: {line}"));
                let labels = rest
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("a label: {line}"));
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

/// The value of the sample `name` with exactly `labels`; 0 when there is none.
pub fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    samples.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
}

/// The sum of the samples `name` whose labels include `labels`.
pub fn sum(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|((n, l), _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, value)| value)
        .sum()
}

/// The sample names of an exposition (a histogram's `_bucket`, `_sum` and `_count` each).
pub fn names(samples: &Samples) -> BTreeSet<String> {
    samples.keys().map(|(name, _)| name.clone()).collect()
}
