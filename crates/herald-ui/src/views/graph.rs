//! The step graph's layout, computed here so the page draws it as plain SVG (no script): each
//! step in the column of its depth (one more than the deepest step it needs), `finally` steps
//! in a last column, rows in the action's order, an edge from each need to its step.

use std::collections::BTreeMap;

/// A step's box.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub href: String,
    pub phase: String,
    pub class: &'static str,
    pub x: u32,
    pub y: u32,
}

/// A line from the right edge of one box to the left edge of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: u32,
    pub height: u32,
    pub box_width: u32,
    pub box_height: u32,
}

pub const BOX_WIDTH: u32 = 170;
pub const BOX_HEIGHT: u32 = 46;
const COLUMN_GAP: u32 = 50;
const ROW_GAP: u32 = 16;
const MARGIN: u32 = 4;

/// A step to place: its name, phase and class, in the action's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed<'a> {
    pub name: &'a str,
    pub phase: String,
    pub class: &'static str,
}

impl Graph {
    /// Lays `steps` out by `needs`; names `needs` does not know are placed in the first column.
    pub fn layout(
        steps: &[Placed<'_>],
        needs: &BTreeMap<String, Vec<String>>,
        finally: &[String],
    ) -> Self {
        let mut depth: BTreeMap<&str, u32> = BTreeMap::new();
        for step in steps {
            depth_of(step.name, needs, &mut depth, 0);
        }
        let deepest = depth.values().copied().max().unwrap_or(0);
        let column = |name: &str| match finally.iter().any(|f| f == name) {
            true => deepest + 1,
            false => depth.get(name).copied().unwrap_or(0),
        };
        let mut rows: BTreeMap<u32, u32> = BTreeMap::new();
        let mut nodes = Vec::with_capacity(steps.len());
        for step in steps {
            let col = column(step.name);
            let row = rows.entry(col).or_insert(0);
            nodes.push(Node {
                name: step.name.to_owned(),
                href: format!("#{}", super::step_anchor(step.name)),
                phase: step.phase.clone(),
                class: step.class,
                x: MARGIN + col * (BOX_WIDTH + COLUMN_GAP),
                y: MARGIN + *row * (BOX_HEIGHT + ROW_GAP),
            });
            *row += 1;
        }
        let edges = edges(&nodes, needs);
        let width = nodes
            .iter()
            .map(|n| n.x + BOX_WIDTH + MARGIN)
            .max()
            .unwrap_or(0);
        let height = nodes
            .iter()
            .map(|n| n.y + BOX_HEIGHT + MARGIN)
            .max()
            .unwrap_or(0);
        Self {
            nodes,
            edges,
            width,
            height,
            box_width: BOX_WIDTH,
            box_height: BOX_HEIGHT,
        }
    }
}

/// The step's depth; a cycle (refused when the action is loaded) cannot loop here: depth
/// stops growing past the number of steps named.
fn depth_of<'a>(
    name: &'a str,
    needs: &'a BTreeMap<String, Vec<String>>,
    depth: &mut BTreeMap<&'a str, u32>,
    guard: usize,
) -> u32 {
    if let Some(known) = depth.get(name) {
        return *known;
    }
    let needed = needs.get(name).map(Vec::as_slice).unwrap_or_default();
    let d = if guard > needs.len() {
        0
    } else {
        (needed.iter())
            .map(|n| depth_of(n, needs, depth, guard + 1) + 1)
            .max()
            .unwrap_or(0)
    };
    depth.insert(name, d);
    d
}

fn edges(nodes: &[Node], needs: &BTreeMap<String, Vec<String>>) -> Vec<Edge> {
    let at: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut edges = Vec::new();
    for node in nodes {
        for need in needs.get(&node.name).into_iter().flatten() {
            if let Some(from) = at.get(need.as_str()) {
                edges.push(Edge {
                    x1: from.x + BOX_WIDTH,
                    y1: from.y + BOX_HEIGHT / 2,
                    x2: node.x,
                    y2: node.y + BOX_HEIGHT / 2,
                });
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(name: &str) -> Placed<'_> {
        Placed {
            name,
            phase: "Succeeded".into(),
            class: "ok",
        }
    }

    #[test]
    fn steps_stand_in_the_column_of_their_depth() {
        let steps = [
            placed("build"),
            placed("test"),
            placed("lint"),
            placed("ship"),
            placed("report"),
        ];
        let needs = BTreeMap::from([
            ("test".to_owned(), vec!["build".to_owned()]),
            ("lint".to_owned(), vec!["build".to_owned()]),
            (
                "ship".to_owned(),
                vec!["test".to_owned(), "lint".to_owned()],
            ),
        ]);
        let graph = Graph::layout(&steps, &needs, &["report".to_owned()]);
        let pos: BTreeMap<&str, (u32, u32)> = graph
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), (n.x, n.y)))
            .collect();
        let col = |c: u32| MARGIN + c * (BOX_WIDTH + COLUMN_GAP);
        let row = |r: u32| MARGIN + r * (BOX_HEIGHT + ROW_GAP);
        assert_eq!(pos["build"], (col(0), row(0)));
        assert_eq!(pos["test"], (col(1), row(0)));
        assert_eq!(pos["lint"], (col(1), row(1)));
        assert_eq!(pos["ship"], (col(2), row(0)));
        assert_eq!(pos["report"], (col(3), row(0)), "finally comes last");
        assert_eq!(graph.edges.len(), 4);
        assert_eq!(graph.width, col(3) + BOX_WIDTH + MARGIN);
        assert_eq!(graph.nodes[0].href, "#step-build");
    }

    #[test]
    fn without_needs_the_steps_stand_in_one_column() {
        let graph = Graph::layout(&[placed("a"), placed("b")], &BTreeMap::new(), &[]);
        assert!(graph.nodes.iter().all(|n| n.x == MARGIN));
        assert!(graph.edges.is_empty());
    }
}
