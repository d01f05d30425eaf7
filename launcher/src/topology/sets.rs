//! Several shapes at once, for a gauntlet (the same scenarios once per shape): the list
//! form `a,b,c` of `--topology` (specs or presets) and the named sets `set:NAME`.

use super::{Shape, ShapeError};

/// Written before a set's name in a list: `set:small`.
pub const SET_PREFIX: &str = "set:";

/// Named sets of presets, each a few small shapes that TCG boots in seconds:
/// `schedbox topology list` prints them.
pub const SETS: &[(&str, &[&str])] = &[
    ("small", &["uni", "smt2", "flat2", "llc2"]),
    ("cache", &["flat4", "llc2", "llc2-smt", "llc3-odd"]),
    ("numa", &["numa2", "numa2-smt", "numa2-16"]),
];

/// Parses a comma-separated list of specs, presets and `set:NAME`s into its shapes in
/// order; a shape named twice (directly or through a set) is an error naming it.
pub fn parse_list(text: &str) -> Result<Vec<Shape>, ShapeError> {
    let mut shapes: Vec<(Shape, &str)> = Vec::new();
    for item in text.split(',').map(str::trim) {
        for (shape, named) in expand(item)? {
            if let Some((_, first)) = shapes.iter().find(|(s, _)| *s == shape) {
                return Err(ShapeError(format!(
                    "topology {shape} is in {text:?} twice (as {first:?} and {named:?}): \
                     give each shape once"
                )));
            }
            shapes.push((shape, named));
        }
    }
    Ok(shapes.into_iter().map(|(s, _)| s).collect())
}

/// One item of a list: a set's shapes, or the one shape a spec or preset names.
fn expand(item: &str) -> Result<Vec<(Shape, &str)>, ShapeError> {
    let Some(name) = item.strip_prefix(SET_PREFIX) else {
        return Ok(vec![(Shape::parse(item)?, item)]);
    };
    let (_, members) = SETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let known: Vec<String> = SETS.iter().map(|(n, _)| format!("set:{n}")).collect();
        ShapeError(format!(
            "unknown topology set {item:?}: use {} (`schedbox topology list` shows them)",
            known.join(", ")
        ))
    })?;
    members
        .iter()
        .map(|preset| Shape::parse(preset).map(|s| (s, *preset)))
        .collect()
}

/// The sets as a table: name and members.
pub fn table() -> String {
    let mut out = format!("{:<14} {}\n", "set", "shapes");
    for (name, members) in SETS {
        out += &format!(
            "{:<14} {}\n",
            format!("{SET_PREFIX}{name}"),
            members.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(text: &str) -> Vec<String> {
        parse_list(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(Shape::to_string)
            .collect()
    }

    #[test]
    fn lists_mix_specs_presets_and_sets_in_order() {
        assert_eq!(specs("1n1l2c1t"), ["1n1l2c1t"]);
        assert_eq!(specs("1n1l2c1t, smt2"), ["1n1l2c1t", "1n1l1c2t"]);
        assert_eq!(
            specs("set:small"),
            ["1n1l1c1t", "1n1l1c2t", "1n1l2c1t", "1n2l2c1t"]
        );
        assert_eq!(specs("numa2-smt,set:small").len(), 5);
    }

    #[test]
    fn every_set_member_is_a_preset_of_a_different_shape() {
        for (name, members) in SETS {
            let shapes = parse_list(&format!("{SET_PREFIX}{name}")).unwrap();
            assert_eq!(shapes.len(), members.len(), "set:{name}");
            assert!(table().contains(&format!("set:{name}")));
        }
    }

    #[test]
    fn bad_lists_name_the_item_and_the_fix() {
        for (text, want) in [
            (
                "set:huge",
                "unknown topology set \"set:huge\": use set:small",
            ),
            ("1n1l2c1t,flat2", "1n1l2c1t is in \"1n1l2c1t,flat2\" twice"),
            ("smt2,set:small", "(as \"smt2\" and \"smt2\")"),
            ("uni,,smt2", "neither NnLlCcTt"),
            ("uni,2x", "topology \"2x\" is neither"),
        ] {
            let err = parse_list(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
