//! Template sources that would build gigabytes within their fuel if the values a render builds
//! were not capped (issue 10: a template render cannot exhaust the server's memory). Shared by
//! the unit tests of `ferrogram_engine::template` and the end-to-end test `tests/render_memory.rs`.
//! Each renders at most a number, so the template output cap is never what stops it.

/// Which cap stops an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// One value would pass the template value cap.
    Value,
    /// The values built would pass the template memory cap in total.
    Memory,
}

/// Template sources that build gigabytes within their fuel (each without output but the
/// last value's length), and which cap stops each.
pub const MEMORY_ATTACKS: &[(&str, Cap)] = &[
    // Doubling a namespace attribute in a loop: 2^60 bytes.
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        Cap::Value,
    ),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        Cap::Value,
    ),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s * 2 %}{% endfor %}{{ ns.s|length }}",
        Cap::Value,
    ),
    // A recursive loop doubling its item down to the recursion limit.
    ("{% for s in ['ab'] recursive %}{% if s|length < 2**62 %}{{ loop([s ~ s]) }}{% endif %}{% endfor %}", Cap::Value),
    // One expression: ten times a string just under the cap.
    ("{% set a = 'x' * 1000000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}{{ b|length }}", Cap::Value),
    ("{% set a = 'x' * 100000000 %}{{ a|length }}", Cap::Value),
    // Filters and functions that expand a small value into a large one.
    ("{% set a = 'x' * 1000000 %}{{ ([a] * 1000)|join|length }}", Cap::Value),
    ("{% set a = 'x' * 2000 %}{{ (a|replace('x', a))|length }}", Cap::Value),
    ("{{ ('a\nb'|indent(1000000000))|length }}", Cap::Value),
    ("{{ ('%1000000000s'|format('x'))|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ ('%s' * 1000)|format(*([a] * 1000))|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ ([a] * 1000)|string|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ ([a] * 1000)|pprint|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ debug([a] * 1000)|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ (([a] * 1000) ~ '')|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ (([a] * 1000)|upper)|length }}", Cap::Value),
    ("{% set a = 'x' * 1000000 %}{{ (([a] * 1000) in 'y') }}", Cap::Value),
    ("{{ ([1] * 100000000)|length }}", Cap::Value),
    ("{{ ([1]|batch(1000000000000, 0))|length }}", Cap::Value),
    (
        "{% set a = 'x' * 1000000 %}{% set b %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endset %}{{ b|length }}",
        Cap::Value,
    ),
    (
        "{% set a = 'x' * 1000000 %}{% filter upper %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endfilter %}",
        Cap::Value,
    ),
    // A sequence that doubles lazily, then is materialized.
    (
        "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ (ns.l|list)|length }}",
        Cap::Value,
    ),
    (
        "{% set ns = namespace(l=[1]|select) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|sum }}",
        Cap::Value,
    ),
    // Iterating a shared sequence again and again: each item counts.
    ("{{ ([range(40000)] * 1000)|map('sum')|sum }}", Cap::Memory),
    // Comparing two structures that share their parts: 2^40 leaves each.
    (
        "{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}{% set ns.b = [ns.b, ns.b] %}{% endfor %}{{ ns.a == ns.b }}",
        Cap::Memory,
    ),
    // Many values each under the cap, kept together.
    (
        "{% set ns = namespace(l=[]) %}{% set a = 'x' * 1000000 %}{% for i in range(5000) %}{% set ns.l = ns.l + [a ~ i] %}{% endfor %}{{ ns.l|length }}",
        Cap::Memory,
    ),
    (
        "{% set ns = namespace(l=[]) %}{% set a = 'x' * 1000000 %}{% for i in range(5000) %}{% set ns.l = ns.l + [a|upper] %}{% endfor %}{{ ns.l|length }}",
        Cap::Memory,
    ),
];
