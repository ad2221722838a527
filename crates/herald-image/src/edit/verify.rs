//! The check after an edit: the new text, parsed again, must hold the original events with
//! exactly the planned differences. A splice that broke a quote, joined two lines or changed
//! any other value fails here, and the edit is refused.

use super::EditError;
use super::plan::{Expectation, Splice};
use super::source::{Shape, parse};

pub(crate) fn verify(
    original: &[Shape],
    splices: &[Splice],
    new_source: &str,
) -> Result<(), EditError> {
    let reparsed = parse(new_source).map_err(|error| EditError::Unverified {
        detail: format!("the edited file does not parse: {error}"),
    })?;
    let expected = expected_shapes(original, splices);
    if let Some(position) = first_difference(&expected, &reparsed.shapes) {
        return Err(EditError::Unverified {
            detail: format!(
                "event {position} should be {:?} but is {:?}",
                expected.get(position),
                reparsed.shapes.get(position)
            ),
        });
    }
    Ok(())
}

fn expected_shapes(original: &[Shape], splices: &[Splice]) -> Vec<Shape> {
    let mut expected = Vec::with_capacity(original.len() + 2 * splices.len());
    for (position, shape) in original.iter().enumerate() {
        let mut shape = shape.clone();
        let mut inserted = Vec::new();
        for splice in splices {
            match &splice.expect {
                Expectation::Replace {
                    event,
                    value,
                    style,
                } if *event == position => {
                    if let Shape::Scalar {
                        value: v, style: s, ..
                    } = &mut shape
                    {
                        v.clone_from(value);
                        *s = *style;
                    }
                }
                Expectation::InsertAfter { event, shapes } if *event == position => {
                    inserted.extend(shapes.iter().cloned());
                }
                _ => {}
            }
        }
        expected.push(shape);
        expected.extend(inserted);
    }
    expected
}

fn first_difference(expected: &[Shape], found: &[Shape]) -> Option<usize> {
    let common = expected.len().min(found.len());
    (0..common)
        .find(|&position| expected[position] != found[position])
        .or((expected.len() != found.len()).then_some(common))
}

#[cfg(test)]
mod tests {
    use super::super::plan::{Expectation, Splice};
    use super::super::source::Style;
    use super::super::{Change, Target, YamlPath};
    use super::*;

    fn splice(at: std::ops::Range<usize>, text: &str, event: usize, value: &str) -> Splice {
        Splice {
            at,
            text: text.into(),
            expect: Expectation::Replace {
                event,
                value: value.into(),
                style: Style::Plain,
            },
            change: Change {
                document: 0,
                path: YamlPath::default(),
                line: 1,
                target: Target::ValuesPath,
                old: None,
                new: value.into(),
            },
        }
    }

    fn shapes(source: &str) -> Vec<Shape> {
        parse(source).unwrap().shapes
    }

    #[test]
    fn the_planned_change_passes() {
        // Events: DocumentStart, MappingStart, a, 1, b, 2 ...
        let original = shapes("a: 1\nb: 2\n");
        assert!(verify(&original, &[splice(3..4, "3", 3, "3")], "a: 3\nb: 2\n").is_ok());
    }

    #[test]
    fn any_other_difference_fails() {
        let original = shapes("a: 1\nb: 2\n");
        let planned = [splice(3..4, "3", 3, "3")];
        for wrong in [
            "a: 3\nb: 3\n",
            "a: 3\n",
            "a: 3\nb: 2\nc: 4\n",
            "a: '3'\nb: 2\n",
            "a: [3\n",
        ] {
            let error = verify(&original, &planned, wrong).unwrap_err();
            assert!(
                matches!(error, EditError::Unverified { .. }),
                "{wrong:?}: {error}"
            );
        }
    }
}
