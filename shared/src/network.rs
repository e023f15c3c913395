//! The character network: co-occurrence within a window of lines, as JSON and as an HTML page.
//!
//! A line's characters are its speaker (when the cast resolves it) and the characters its text
//! mentions. For each line `i` of an episode, every character of line `i` is paired with every
//! other character of lines `i - window + 1 ..= i` (the line itself included, earlier lines of the
//! same episode only); each distinct pair found at line `i` adds 1 to its edge. So the weight of
//! `{a, b}` is the number of lines at which one of them is present and the other was present on
//! that line or one of the `window - 1` lines before it. With `window = 1` it is the number of
//! lines naming both.
//!
//! Worked example, window 2, one episode:
//!
//! | line | speaker | text          | characters   | pairs added   |
//! |------|---------|---------------|--------------|---------------|
//! | 0    | Mike    | "Where's El?" | Mike, Eleven | {Mike,Eleven} |
//! | 1    | Dustin  | "No idea."    | Dustin       | {Dustin,Mike}, {Dustin,Eleven} |
//! | 2    | —       | "Mike!"       | Mike         | {Mike,Dustin} |
//!
//! Mike–Eleven 1, Mike–Dustin 2, Dustin–Eleven 1.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::characters::Cast;
use crate::dialogue::Line;

/// The co-occurrence graph of a corpus, in a deterministic order: nodes by name, edges by
/// `(source, target)` with `source < target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The window the weights were counted with, in lines (at least 1).
    pub window: usize,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A character present at least once: mentioned in a line, or speaking one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The canonical name.
    pub id: String,
    /// Lines whose text names the character (a line counts once however often it names them).
    pub mentions: u64,
    /// Lines the character speaks.
    pub lines_spoken: u64,
}

/// Two characters who co-occur; `weight` is at least 1 (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub weight: u64,
}

/// Counts a network episode by episode.
#[derive(Debug)]
pub struct NetworkBuilder<'c> {
    cast: &'c Cast,
    window: usize,
    mentions: Vec<u64>,
    spoken: Vec<u64>,
    /// `(a, b)` with `a < b`, indices into the cast.
    weights: HashMap<(usize, usize), u64>,
}

impl<'c> NetworkBuilder<'c> {
    /// A builder counting co-occurrence within `window` lines; a window of 0 counts as 1.
    pub fn new(cast: &'c Cast, window: usize) -> Self {
        let n = cast.characters().len();
        NetworkBuilder {
            cast,
            window: window.max(1),
            mentions: vec![0; n],
            spoken: vec![0; n],
            weights: HashMap::new(),
        }
    }

    /// Adds one episode's lines, in order. Windows never reach into another episode.
    pub fn add_episode(&mut self, lines: &[Line<'_>]) {
        let mut recent: VecDeque<Vec<usize>> = VecDeque::with_capacity(self.window);
        let mut mentioned = Vec::new();
        let mut pairs = Vec::new();
        for line in lines {
            // The line leaving the window lends its buffer to the one entering it.
            let mut present = if recent.len() == self.window {
                recent.pop_front().unwrap_or_default()
            } else {
                Vec::new()
            };
            present.clear();
            if let Some(who) = line
                .speaker
                .as_deref()
                .and_then(|s| self.cast.resolve_id(s))
            {
                self.spoken[who] += 1;
                present.push(who);
            }
            mentioned.clear();
            self.cast.mention_ids(&line.text, &mut mentioned);
            for &who in &mentioned {
                self.mentions[who] += 1;
                if !present.contains(&who) {
                    present.push(who);
                }
            }

            recent.push_back(present);
            pairs.clear();
            let current = recent.back().map(Vec::as_slice).unwrap_or_default();
            for &a in current {
                for other in &recent {
                    for &b in other {
                        if a != b {
                            pairs.push((a.min(b), a.max(b)));
                        }
                    }
                }
            }
            pairs.sort_unstable();
            pairs.dedup();
            for &pair in &pairs {
                *self.weights.entry(pair).or_insert(0) += 1;
            }
        }
    }

    /// The network: characters present at least once, and every pair with weight at least 1.
    pub fn finish(self) -> Network {
        let names = self.cast.characters();
        let mut nodes: Vec<Node> = (0..names.len())
            .filter(|&i| self.mentions[i] > 0 || self.spoken[i] > 0)
            .map(|i| Node {
                id: names[i].name.clone(),
                mentions: self.mentions[i],
                lines_spoken: self.spoken[i],
            })
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let mut edges: Vec<Edge> = self
            .weights
            .into_iter()
            .filter(|&(_, w)| w > 0)
            .map(|((a, b), weight)| {
                let (a, b) = (&names[a].name, &names[b].name);
                let (source, target) = if a <= b { (a, b) } else { (b, a) };
                Edge {
                    source: source.clone(),
                    target: target.clone(),
                    weight,
                }
            })
            .collect();
        edges.sort_by(|x, y| (&x.source, &x.target).cmp(&(&y.source, &y.target)));
        Network {
            window: self.window,
            nodes,
            edges,
        }
    }
}

impl Network {
    /// Pretty JSON in the field order of the types; the same network always gives the same text.
    pub fn to_json(&self) -> String {
        // Plain structs of strings and integers: serialising them cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A page that stands alone (no scripts, fonts or styles from elsewhere), to open from S3 or
    /// disk: a force-directed drawing of the network (a node's area grows with its mentions, an
    /// edge's width with its weight), a character's counts and strongest connections on hover or
    /// click, a control hiding the pairs below a weight, and tables of the strongest pairs and of
    /// the characters that read without JavaScript.
    ///
    /// The network is embedded as JSON in a `<script type="application/json">` element, with `<`,
    /// `>` and `&` written as `\u003c`, `\u003e`, `\u0026`, so no name can close the element.
    pub fn to_html(&self, title: &str) -> String {
        let title = escape_html(title);
        let summary = format!(
            "{} characters · {} pairs · co-occurrence within {} line{}",
            self.nodes.len(),
            self.edges.len(),
            self.window,
            if self.window == 1 { "" } else { "s" }
        );

        let mut pairs: Vec<&Edge> = self.edges.iter().collect();
        pairs.sort_by(|a, b| {
            b.weight
                .cmp(&a.weight)
                .then_with(|| (&a.source, &a.target).cmp(&(&b.source, &b.target)))
        });
        let mut pair_rows = String::new();
        for (rank, e) in pairs.iter().take(TABLE_PAIRS).enumerate() {
            let _ = writeln!(
                pair_rows,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                rank + 1,
                escape_html(&e.source),
                escape_html(&e.target),
                e.weight
            );
        }
        if pairs.is_empty() {
            pair_rows.push_str("<tr><td colspan=\"4\">No two characters co-occur.</td></tr>\n");
        }

        let mut people: Vec<&Node> = self.nodes.iter().collect();
        people.sort_by(|a, b| {
            (b.mentions + b.lines_spoken)
                .cmp(&(a.mentions + a.lines_spoken))
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut degree: HashMap<&str, usize> = HashMap::new();
        for e in &self.edges {
            *degree.entry(e.source.as_str()).or_default() += 1;
            *degree.entry(e.target.as_str()).or_default() += 1;
        }
        let mut people_rows = String::new();
        for n in &people {
            let _ = writeln!(
                people_rows,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape_html(&n.id),
                n.mentions,
                n.lines_spoken,
                degree.get(n.id.as_str()).copied().unwrap_or(0)
            );
        }
        if people.is_empty() {
            people_rows.push_str("<tr><td colspan=\"4\">No character was found.</td></tr>\n");
        }

        let data = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string());
        PAGE.replace("{{TITLE}}", &title)
            .replace("{{SUMMARY}}", &escape_html(&summary))
            .replace("{{PAIRS}}", &pair_rows)
            .replace("{{PEOPLE}}", &people_rows)
            .replace("{{SCRIPT}}", SCRIPT)
            // Last, so that nothing in the data is taken for a placeholder.
            .replace("{{DATA}}", &json_for_script(&data))
    }
}

/// How many pairs the page's table lists.
const TABLE_PAIRS: usize = 50;

/// Text safe inside HTML elements and attribute values (every page Hawkins writes uses it).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can sit inside a `<script>` element: `<`, `>`, `&` and the two line separators
/// JavaScript once rejected are written as `\u` escapes, which JSON reads back as the same text.
/// They can only occur inside strings, where such escapes are valid.
fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The page around the data; `{{…}}` are filled in by [`Network::to_html`].
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
:root { color-scheme: dark; --bg: #0b0b10; --panel: #15151d; --line: #272733; --ink: #ebe8e3;
  --muted: #9b98a8; --accent: #e5202e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { padding: 20px 24px 6px; }
h1 { margin: 0; font-size: 28px; letter-spacing: .06em; color: var(--accent);
  text-shadow: 0 0 14px rgba(229, 32, 46, .55); }
h2 { font-size: 17px; margin: 0 0 10px; letter-spacing: .03em; }
.summary, .muted { color: var(--muted); }
.summary { margin: 4px 0 0; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center; padding: 10px 24px; }
.controls input[type=range] { width: 240px; accent-color: var(--accent); vertical-align: middle; }
.controls input[type=number] { width: 84px; background: var(--panel); color: var(--ink);
  border: 1px solid var(--line); border-radius: 4px; padding: 3px 6px; }
main { display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 16px; padding: 0 24px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
#graph { display: block; width: 100%; height: auto; aspect-ratio: 1000 / 680; max-height: 82vh;
  border: 1px solid var(--line);
  border-radius: 10px; background: radial-gradient(ellipse at 50% 45%, #1b1b28 0%, #0b0b10 78%);
  touch-action: none; user-select: none; }
aside { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  align-self: start; }
aside dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 14px; margin: 0 0 14px; }
aside dt { color: var(--muted); }
aside dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
aside ol { list-style: none; margin: 0; padding: 0; }
aside li { display: grid; grid-template-columns: 1fr auto; gap: 0 10px; padding: 3px 0; cursor: pointer; }
aside li:hover .who { color: var(--accent); }
aside li .bar { grid-column: 1 / 3; height: 3px; background: var(--accent); opacity: .7; border-radius: 2px; }
aside li .w { font-variant-numeric: tabular-nums; color: var(--muted); }
.edge { stroke: #9a9ab8; stroke-opacity: .28; stroke-linecap: round; }
.edge.hot { stroke: #ff5a64; stroke-opacity: .85; }
.node { cursor: pointer; }
.node circle { stroke: #0b0b10; stroke-width: 1.5px; }
.node.hot circle { stroke: #fff; stroke-width: 2.5px; }
.node text { fill: var(--ink); font-size: 12px; text-anchor: middle; pointer-events: none;
  paint-order: stroke; stroke: #0b0b10; stroke-width: 3px; stroke-linejoin: round; }
.node.quiet text { display: none; }
.node.quiet.hot text, .node.quiet.near text { display: inline; }
.dim { opacity: .12; }
section.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 28px;
  padding: 26px 24px 40px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #1c1c27; }
noscript p { margin: 12px 24px; color: var(--muted); }
</style>
</head>
<body>
<header>
<h1>{{TITLE}}</h1>
<p class="summary">{{SUMMARY}}</p>
</header>
<div class="controls">
<label for="min-weight">Hide pairs below weight</label>
<input type="range" id="min-weight" min="0" max="0" value="0" step="1">
<input type="number" id="min-weight-box" min="1" value="1" aria-label="Minimum pair weight">
<span id="shown" class="muted"></span>
</div>
<noscript><p>The drawing needs JavaScript; the tables below hold the same figures.</p></noscript>
<main>
<svg id="graph" role="img" aria-label="Character network"></svg>
<aside id="details"><h2>Characters</h2><p class="muted">Hover over a character to see their counts and strongest connections; click to keep them selected, drag to move them.</p></aside>
</main>
<section class="tables">
<div>
<h2>Strongest pairs</h2>
<table>
<thead><tr><th class="num">#</th><th>Character</th><th>Character</th><th class="num">Weight</th></tr></thead>
<tbody>
{{PAIRS}}</tbody>
</table>
</div>
<div>
<h2>Characters</h2>
<table>
<thead><tr><th>Character</th><th class="num">Mentions</th><th class="num">Lines spoken</th><th class="num">Connections</th></tr></thead>
<tbody>
{{PEOPLE}}</tbody>
</table>
</div>
</section>
<script type="application/json" id="network-data">{{DATA}}</script>
<script>
{{SCRIPT}}
</script>
</body>
</html>
"##;

/// The drawing: layout, interaction and the weight filter. Names reach the page only through
/// `textContent`, never as markup.
const SCRIPT: &str = r##"(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("network-data").textContent);
  const svg = document.getElementById("graph");
  const panel = document.getElementById("details");
  const NS = "http://www.w3.org/2000/svg";
  const W = 1000, H = 680, PAD = 34;
  // The most present characters are always named; the others on hover.
  const LABELLED = 30;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);

  const nodes = data.nodes.map(function (n) {
    return { id: n.id, mentions: n.mentions, spoken: n.lines_spoken, x: 0, y: 0, dx: 0, dy: 0, links: [] };
  });
  const byId = new Map(nodes.map(function (n) { return [n.id, n]; }));
  const edges = data.edges
    .filter(function (e) { return byId.has(e.source) && byId.has(e.target) && e.source !== e.target; })
    .map(function (e) { return { a: byId.get(e.source), b: byId.get(e.target), w: e.weight }; });
  edges.forEach(function (e) { e.a.links.push(e); e.b.links.push(e); });
  const maxMentions = Math.max(1, ...nodes.map(function (n) { return n.mentions; }));
  const maxWeight = Math.max(1, ...edges.map(function (e) { return e.w; }));
  nodes.forEach(function (n) { n.r = 5 + 25 * Math.sqrt(n.mentions / maxMentions); });

  // Communities, only to colour the nodes: each node in turn joins the neighbouring community
  // that most raises the modularity, in a fixed order, until no node moves.
  const palette = ["#e5202e", "#3fa7ff", "#ffb020", "#40c98a", "#b07cff", "#ff7ab6", "#27d3d3",
                   "#c9d24a", "#ff8a3d", "#8fa3c0"];
  const twiceTotal = 2 * edges.reduce(function (s, e) { return s + e.w; }, 0) || 1;
  const total = new Map();
  nodes.forEach(function (n, i) {
    n.group = i;
    n.strength = n.links.reduce(function (s, e) { return s + e.w; }, 0);
    total.set(i, n.strength);
  });
  for (let pass = 0; pass < 25; pass++) {
    let moved = false;
    nodes.forEach(function (n) {
      const towards = new Map();
      n.links.forEach(function (e) {
        const o = e.a === n ? e.b : e.a;
        towards.set(o.group, (towards.get(o.group) || 0) + e.w);
      });
      total.set(n.group, total.get(n.group) - n.strength);
      let best = n.group;
      let bestGain = (towards.get(n.group) || 0) - (total.get(n.group) * n.strength) / twiceTotal;
      towards.forEach(function (w, g) {
        const gain = w - (total.get(g) * n.strength) / twiceTotal;
        if (gain > bestGain + 1e-9) { best = g; bestGain = gain; }
      });
      total.set(best, total.get(best) + n.strength);
      if (best !== n.group) { n.group = best; moved = true; }
    });
    if (!moved) break;
  }
  const sizes = new Map();
  nodes.forEach(function (n) { sizes.set(n.group, (sizes.get(n.group) || 0) + n.mentions + n.spoken + 1); });
  const order = [...sizes.keys()].sort(function (x, y) { return sizes.get(y) - sizes.get(x) || x - y; });
  nodes.forEach(function (n) { n.colour = palette[Math.min(order.indexOf(n.group), palette.length - 1)]; });

  // Force-directed layout: start on a spiral, biggest in the middle, then settle. Springs pull
  // with the square root of their weight, so the main cast does not collapse into one point.
  const ranked = nodes.slice().sort(function (p, q) {
    return (q.mentions + q.spoken) - (p.mentions + p.spoken) || (p.id < q.id ? -1 : 1);
  });
  ranked.forEach(function (n, i) {
    const angle = i * 2.39996, radius = 30 * Math.sqrt(i + 0.5);
    n.x = W / 2 + radius * Math.cos(angle);
    n.y = H / 2 + radius * Math.sin(angle);
    n.rank = i;
  });
  const k = Math.sqrt((W * H) / Math.max(1, nodes.length)) * 0.5;
  const gravity = (nodes.length * k * k) / Math.pow(Math.min(W, H) * 0.45, 2);
  let heat = W / 8;
  for (let step = 0; step < 500; step++) {
    nodes.forEach(function (n) { n.dx = 0; n.dy = 0; });
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const p = nodes[i], q = nodes[j];
        let x = p.x - q.x, y = p.y - q.y;
        let d = Math.sqrt(x * x + y * y);
        if (d < 0.01) { x = 0.01 * (i - j); y = 0.01; d = Math.sqrt(x * x + y * y); }
        let f = (k * k) / d;
        const gap = p.r + q.r + 18;
        if (d < gap) f += (gap - d) * 10;
        p.dx += (x / d) * f; p.dy += (y / d) * f;
        q.dx -= (x / d) * f; q.dy -= (y / d) * f;
      }
    }
    edges.forEach(function (e) {
      const x = e.a.x - e.b.x, y = e.a.y - e.b.y;
      const d = Math.max(0.01, Math.sqrt(x * x + y * y));
      const f = ((d * d) / k) * Math.sqrt(e.w / maxWeight) * 2;
      e.a.dx -= (x / d) * f; e.a.dy -= (y / d) * f;
      e.b.dx += (x / d) * f; e.b.dy += (y / d) * f;
    });
    nodes.forEach(function (n) {
      n.dx -= (n.x - W / 2) * gravity; n.dy -= (n.y - H / 2) * gravity;
      const d = Math.sqrt(n.dx * n.dx + n.dy * n.dy);
      if (d > 0) { const m = Math.min(d, heat); n.x += (n.dx / d) * m; n.y += (n.dy / d) * m; }
    });
    heat = Math.max(0.5, heat * 0.988);
  }
  // Loosen the crowded middle: distances from the centre shrink towards their square root, then
  // overlapping nodes (labels included) are pushed apart.
  if (nodes.length > 0) {
    const cx = nodes.reduce(function (s, n) { return s + n.x; }, 0) / nodes.length;
    const cy = nodes.reduce(function (s, n) { return s + n.y; }, 0) / nodes.length;
    const far = Math.max(1, ...nodes.map(function (n) { return Math.hypot(n.x - cx, n.y - cy); }));
    // A handful of characters keep to the middle rather than the corners.
    const reach = (Math.min(W, H) / 2) * Math.min(1, Math.sqrt(nodes.length / 30));
    nodes.forEach(function (n) {
      const x = n.x - cx, y = n.y - cy, d = Math.hypot(x, y);
      const t = d > 0 ? (reach * Math.sqrt(d / far)) / d : 0;
      n.x = W / 2 + x * t; n.y = H / 2 + y * t;
    });
    // Each node with its label is a box; overlapping boxes move apart along the shorter overlap.
    nodes.forEach(function (n) {
      const labelled = n.rank < LABELLED;
      n.hw = labelled ? Math.max(n.r, 3.4 * n.id.length) + 4 : n.r + 5;
      n.hh = labelled ? n.r + 11 : n.r + 5;
      n.lift = labelled ? 8 : 0;
    });
    for (let round = 0; round < 300; round++) {
      let moved = false;
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) {
          const p = nodes[i], q = nodes[j];
          const x = p.x - q.x, y = (p.y + p.lift) - (q.y + q.lift);
          const ox = p.hw + q.hw - Math.abs(x), oy = p.hh + q.hh - Math.abs(y);
          if (ox <= 0 || oy <= 0) continue;
          moved = true;
          if (ox < oy) {
            const m = (ox / 2) * (x < 0 ? -1 : 1);
            p.x += m; q.x -= m;
          } else {
            const m = (oy / 2) * (y < 0 ? -1 : 1);
            p.y += m; q.y -= m;
          }
        }
      }
      if (!moved) break;
    }
  }
  // Fit the drawing to the frame, stretching a little to use its width.
  if (nodes.length > 0) {
    const x0 = Math.min(...nodes.map(function (n) { return n.x - n.r; }));
    const x1 = Math.max(...nodes.map(function (n) { return n.x + n.r; }));
    const y0 = Math.min(...nodes.map(function (n) { return n.y - n.r; }));
    const y1 = Math.max(...nodes.map(function (n) { return n.y + n.r + 16; }));
    let sx = (W - 2 * PAD) / Math.max(1, x1 - x0), sy = (H - 2 * PAD) / Math.max(1, y1 - y0);
    sx = Math.min(sx, sy * 1.35, 1.3); sy = Math.min(sy, sx * 1.35, 1.3);
    const ox = (W - sx * (x1 - x0)) / 2, oy = (H - sy * (y1 - y0)) / 2;
    nodes.forEach(function (n) { n.x = ox + (n.x - x0) * sx; n.y = oy + (n.y - y0) * sy; });
  }

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (a) { e.setAttribute(a, attrs[a]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  const edgeLayer = el("g", {}, svg), nodeLayer = el("g", {}, svg);
  edges.slice().sort(function (p, q) { return p.w - q.w; }).forEach(function (e) {
    e.el = el("line", { class: "edge", "stroke-width": (0.6 + 7 * (e.w / maxWeight)).toFixed(2) }, edgeLayer);
  });
  nodes.slice().sort(function (p, q) { return p.r - q.r; }).forEach(function (n) {
    n.el = el("g", { class: "node" + (n.rank < LABELLED ? "" : " quiet") }, nodeLayer);
    el("circle", { r: n.r.toFixed(1), fill: n.colour }, n.el);
    const label = el("text", { y: (n.r + 13).toFixed(1) }, n.el);
    label.textContent = n.id;
    el("title", {}, n.el).textContent = n.id;
  });
  function place() {
    edges.forEach(function (e) {
      e.el.setAttribute("x1", e.a.x.toFixed(1)); e.el.setAttribute("y1", e.a.y.toFixed(1));
      e.el.setAttribute("x2", e.b.x.toFixed(1)); e.el.setAttribute("y2", e.b.y.toFixed(1));
    });
    nodes.forEach(function (n) { n.el.setAttribute("transform", "translate(" + n.x.toFixed(1) + " " + n.y.toFixed(1) + ")"); });
  }
  place();
  if (nodes.length === 0) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#9b98a8", "font-size": 18 }, svg)
      .textContent = "No character was found.";
  }

  // The weight filter: the slider steps through the weights that occur, the box takes any number.
  const weights = [...new Set(edges.map(function (e) { return e.w; }))].sort(function (p, q) { return p - q; });
  const slider = document.getElementById("min-weight"), box = document.getElementById("min-weight-box");
  const shown = document.getElementById("shown");
  slider.max = String(Math.max(0, weights.length - 1));
  box.max = String(maxWeight);
  let minWeight = 1;
  const strongest = edges.map(function (e) { return e.w; }).sort(function (p, q) { return q - p; });
  const keep = Math.max(60, Math.round(2.5 * nodes.length));
  if (strongest.length > keep) minWeight = strongest[keep - 1];
  function visible(e) { return e.w >= minWeight; }
  function setMin(value, from) {
    minWeight = Math.max(1, Math.floor(Number(value) || 1));
    if (from !== "box") box.value = String(minWeight);
    if (from !== "slider") {
      let i = weights.findIndex(function (w) { return w >= minWeight; });
      slider.value = String(i < 0 ? weights.length - 1 : i);
    }
    let count = 0;
    edges.forEach(function (e) { const on = visible(e); if (on) count++; e.el.style.display = on ? "" : "none"; });
    shown.textContent = "Showing " + count + " of " + edges.length + " pairs";
    highlight(selected || hovered);
  }
  slider.addEventListener("input", function () { setMin(weights[Number(slider.value)] || 1, "slider"); });
  box.addEventListener("input", function () { setMin(box.value, "box"); });

  // Details and highlighting.
  let selected = null, hovered = null;
  function neighbours(n) {
    return n.links.filter(visible).map(function (e) { return { who: e.a === n ? e.b : e.a, w: e.w }; })
      .sort(function (p, q) { return q.w - p.w || (p.who.id < q.who.id ? -1 : 1); });
  }
  function highlight(n) {
    const near = new Set();
    if (n) { near.add(n); neighbours(n).forEach(function (x) { near.add(x.who); }); }
    nodes.forEach(function (m) {
      m.el.classList.toggle("dim", !!n && !near.has(m));
      m.el.classList.toggle("hot", m === n);
      m.el.classList.toggle("near", !!n && near.has(m));
    });
    edges.forEach(function (e) {
      const mine = !!n && (e.a === n || e.b === n);
      e.el.classList.toggle("hot", mine);
      e.el.classList.toggle("dim", !!n && !mine);
    });
    show(n);
  }
  function add(parent, tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    parent.appendChild(e);
    return e;
  }
  function show(n) {
    panel.replaceChildren();
    if (!n) {
      add(panel, "h2", "Characters");
      add(panel, "p", "Hover over a character to see their counts and strongest connections; click to keep them selected, drag to move them.", "muted");
      return;
    }
    add(panel, "h2", n.id);
    const facts = add(panel, "dl");
    const near = neighbours(n);
    [["Mentions", n.mentions], ["Lines spoken", n.spoken], ["Connections shown", near.length]].forEach(function (f) {
      add(facts, "dt", f[0]); add(facts, "dd", String(f[1]));
    });
    if (near.length === 0) { add(panel, "p", "No pair at or above this weight.", "muted"); return; }
    add(panel, "h2", "Strongest connections");
    const list = add(panel, "ol");
    const top = near[0].w;
    near.slice(0, 10).forEach(function (x) {
      const li = add(list, "li");
      add(li, "span", x.who.id, "who");
      add(li, "span", String(x.w), "w");
      add(li, "span", undefined, "bar").style.width = (100 * x.w / top).toFixed(1) + "%";
      li.addEventListener("click", function () { selected = x.who; highlight(selected); });
    });
  }

  // Pointer: hover shows, click selects, drag moves.
  let drag = null;
  function point(ev) {
    const m = svg.getScreenCTM();
    if (!m) return { x: 0, y: 0 };
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }
  nodes.forEach(function (n) {
    n.el.addEventListener("pointerenter", function () { hovered = n; if (!selected && !drag) highlight(n); });
    n.el.addEventListener("pointerleave", function () { hovered = null; if (!selected && !drag) highlight(null); });
    n.el.addEventListener("pointerdown", function (ev) {
      ev.stopPropagation();
      const p = point(ev);
      drag = { n: n, ox: n.x - p.x, oy: n.y - p.y, moved: false };
      svg.setPointerCapture(ev.pointerId);
    });
  });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    const p = point(ev);
    drag.n.x = Math.max(PAD / 2, Math.min(W - PAD / 2, p.x + drag.ox));
    drag.n.y = Math.max(PAD / 2, Math.min(H - PAD / 2, p.y + drag.oy));
    drag.moved = true;
    place();
  if (nodes.length === 0) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#9b98a8", "font-size": 18 }, svg)
      .textContent = "No character was found.";
  }
  });
  svg.addEventListener("pointerup", function () {
    if (drag && !drag.moved) { selected = selected === drag.n ? null : drag.n; highlight(selected || drag.n); }
    drag = null;
  });
  svg.addEventListener("pointerdown", function () { selected = null; highlight(null); });

  setMin(minWeight, "init");
})();"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::characters::Character;
    use proptest::prelude::*;

    fn line(speaker: Option<&str>, text: &str) -> Line<'static> {
        Line {
            start_ms: None,
            end_ms: None,
            speaker: speaker.map(|s| s.to_owned().into()),
            text: text.to_owned().into(),
        }
    }

    fn edge(source: &str, target: &str, weight: u64) -> Edge {
        Edge {
            source: source.into(),
            target: target.into(),
            weight,
        }
    }

    fn node(id: &str, mentions: u64, lines_spoken: u64) -> Node {
        Node {
            id: id.into(),
            mentions,
            lines_spoken,
        }
    }

    fn build(cast: &Cast, window: usize, episodes: &[Vec<Line>]) -> Network {
        let mut builder = NetworkBuilder::new(cast, window);
        for episode in episodes {
            builder.add_episode(episode);
        }
        builder.finish()
    }

    #[test]
    fn weights_of_a_hand_counted_episode() {
        // Window 3. Characters per line: {Mike, Eleven}, {Dustin}, {Hopper}, {}, {Eleven, Mike}.
        // Line 0 adds Mike–Eleven; line 1 Dustin with both; line 2 Hopper with all three; line 3
        // nothing; line 4 sees lines 2–4, so Eleven–Mike, Eleven–Hopper and Mike–Hopper again.
        let episode = vec![
            line(Some("MIKE"), "Where is El?"),
            line(Some("Dustin"), "No idea."),
            line(None, "Hopper's truck!"),
            line(Some("Unknown"), "Run!"),
            line(Some("El"), "Mike."),
        ];
        let network = build(&Cast::builtin(), 3, &[episode]);
        assert_eq!(
            network,
            Network {
                window: 3,
                nodes: vec![
                    node("Dustin Henderson", 0, 1),
                    node("Eleven", 1, 1),
                    node("Jim Hopper", 1, 0),
                    node("Mike Wheeler", 1, 1),
                ],
                edges: vec![
                    edge("Dustin Henderson", "Eleven", 1),
                    edge("Dustin Henderson", "Jim Hopper", 1),
                    edge("Dustin Henderson", "Mike Wheeler", 1),
                    edge("Eleven", "Jim Hopper", 2),
                    edge("Eleven", "Mike Wheeler", 2),
                    edge("Jim Hopper", "Mike Wheeler", 2),
                ],
            }
        );
    }

    #[test]
    fn the_documented_example_holds() {
        let episode = vec![
            line(Some("Mike"), "Where's El?"),
            line(Some("Dustin"), "No idea."),
            line(None, "Mike!"),
        ];
        let network = build(&Cast::builtin(), 2, &[episode]);
        assert_eq!(
            network.edges,
            vec![
                edge("Dustin Henderson", "Eleven", 1),
                edge("Dustin Henderson", "Mike Wheeler", 2),
                edge("Eleven", "Mike Wheeler", 1),
            ]
        );
    }

    #[test]
    fn windows_stay_inside_an_episode() {
        let cast = Cast::builtin();
        let first = vec![line(Some("Mike"), "Hello.")];
        let second = vec![line(Some("Dustin"), "Hello.")];
        let apart = build(&cast, 10, &[first.clone(), second.clone()]);
        assert!(apart.edges.is_empty(), "{:?}", apart.edges);
        assert_eq!(apart.nodes.len(), 2);
        let together = build(&cast, 10, &[[first, second].concat()]);
        assert_eq!(
            together.edges,
            vec![edge("Dustin Henderson", "Mike Wheeler", 1)]
        );
    }

    #[test]
    fn window_one_counts_lines_naming_both_and_zero_means_one() {
        let cast = Cast::builtin();
        let episode = vec![
            line(Some("Nancy"), "Jonathan, Steve is here. Jonathan!"),
            line(Some("Jonathan"), "Nancy."),
            line(Some("Steve"), "Hi."),
        ];
        let one = build(&cast, 1, std::slice::from_ref(&episode));
        assert_eq!(
            one.edges,
            vec![
                edge("Jonathan Byers", "Nancy Wheeler", 2),
                edge("Jonathan Byers", "Steve Harrington", 1),
                edge("Nancy Wheeler", "Steve Harrington", 1),
            ]
        );
        assert_eq!(
            one.nodes[0],
            node("Jonathan Byers", 1, 1),
            "a line mentioning twice counts once"
        );
        let zero = build(&cast, 0, &[episode]);
        assert_eq!(zero.window, 1);
        assert_eq!(zero.edges, one.edges);
    }

    #[test]
    fn unknown_speakers_and_empty_lines_add_nothing() {
        let cast = Cast::builtin();
        let episode = vec![
            line(Some("Unknown"), "Run!"),
            line(Some("Wheeler"), "Hello?"),
            line(Some("Russian Soldier 6"), ""),
            line(None, ""),
        ];
        let network = build(&cast, 10, &[episode, Vec::new()]);
        assert_eq!(
            network,
            Network {
                window: 10,
                nodes: vec![],
                edges: vec![]
            }
        );
        assert_eq!(
            network.to_json(),
            "{\n  \"window\": 10,\n  \"nodes\": [],\n  \"edges\": []\n}"
        );
    }

    fn tricky_cast() -> Cast {
        Cast::from_characters(vec![
            Character {
                name: "</script><script>alert(1)</script>".into(),
                aliases: vec![],
            },
            Character {
                name: "Tom & \"Jerry\" <b>".into(),
                aliases: vec!["Tom".into()],
            },
            Character {
                name: "Line\u{2028}Break".into(),
                aliases: vec![],
            },
        ])
    }

    fn tricky_network() -> Network {
        let cast = tricky_cast();
        let episode = vec![
            line(Some("</script><script>alert(1)</script>"), "Tom!"),
            line(Some("Line\u{2028}Break"), "Tom?"),
        ];
        build(&cast, 10, &[episode])
    }

    /// The JSON embedded in a page, read back.
    fn embedded(page: &str) -> Network {
        let open = "<script type=\"application/json\" id=\"network-data\">";
        let start = page.find(open).expect("the data element") + open.len();
        let len = page[start..].find("</script>").expect("its end");
        let json = &page[start..start + len];
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        serde_json::from_str(json).expect("the embedded data is JSON")
    }

    #[test]
    fn page_escapes_names_and_embeds_the_data() {
        let network = tricky_network();
        assert_eq!(network.nodes.len(), 3);
        assert_eq!(network.edges.len(), 3);
        let page = network.to_html("Hawkins <S1> & \"friends\"");
        assert_eq!(embedded(&page), network);
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the page's own script elements close"
        );
        assert_eq!(page.matches("<script").count(), 2);
        assert!(page.contains("<title>Hawkins &lt;S1&gt; &amp; &quot;friends&quot;</title>"));
        assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Tom &amp; &quot;Jerry&quot; &lt;b&gt;"));
        let data = &page[page.find("id=\"network-data\"").unwrap_or(0)..];
        assert!(
            !data[..data.find("</script>").unwrap_or(0)].contains('\u{2028}'),
            "escaped in the data"
        );
    }

    #[test]
    fn page_stands_alone() {
        let page = tricky_network().to_html("Hawkins");
        for outside in [
            "src=",
            "href=",
            "<link",
            "@import",
            "url(",
            "//cdn",
            "fonts.googleapis",
        ] {
            assert!(!page.contains(outside), "the page must not load {outside}");
        }
        let links: Vec<&str> = page
            .match_indices("http")
            .map(|(i, _)| &page[i..i + 26])
            .collect();
        assert!(
            links.iter().all(|l| *l == "http://www.w3.org/2000/svg"),
            "{links:?}"
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(
            page.contains("<th>Character</th>"),
            "tables for readers without JavaScript"
        );
    }

    #[test]
    fn page_of_an_empty_network() {
        let network = Network {
            window: 10,
            nodes: vec![],
            edges: vec![],
        };
        let page = network.to_html("Empty");
        assert_eq!(embedded(&page), network);
        assert!(page.contains("No two characters co-occur."));
    }

    #[test]
    fn pair_table_lists_the_strongest_first() {
        let network = Network {
            window: 10,
            nodes: vec![node("A", 1, 0), node("B", 1, 0), node("C", 1, 0)],
            edges: vec![edge("A", "B", 1), edge("A", "C", 7), edge("B", "C", 3)],
        };
        let page = network.to_html("Order");
        let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
        let ac = at("<td>A</td><td>C</td><td class=\"num\">7</td>");
        let bc = at("<td>B</td><td>C</td><td class=\"num\">3</td>");
        let ab = at("<td>A</td><td>B</td><td class=\"num\">1</td>");
        assert!(ac < bc && bc < ab);
    }

    /// Speaker labels and words for generated episodes: characters, homographs, ambiguous and
    /// unknown names, punctuation.
    const LABELS: &[&str] = &[
        "Mike", "EL", "Hopper", "Wheeler", "Unknown", "Dustin", "Sara", "max",
    ];
    const WORDS: &[&str] = &[
        "Mike",
        "Will",
        "will",
        "Hopper's",
        "El!",
        "Nancy Wheeler",
        "Wheeler",
        "you",
        "the",
        "Max,",
        "Mr.",
        "Clarke",
        "?",
        "Steve",
        "Robin",
        "Eleven.",
        "One",
    ];

    fn episodes() -> impl Strategy<Value = Vec<Vec<Line<'static>>>> {
        let line = (
            proptest::option::of(0..LABELS.len()),
            proptest::collection::vec(0..WORDS.len(), 0..6),
        )
            .prop_map(|(speaker, words)| {
                let text: Vec<&str> = words.into_iter().map(|w| WORDS[w]).collect();
                line(speaker.map(|s| LABELS[s]), &text.join(" "))
            });
        proptest::collection::vec(proptest::collection::vec(line, 0..14), 0..5)
    }

    fn well_formed(network: &Network) -> Result<(), TestCaseError> {
        let ids: Vec<&str> = network.nodes.iter().map(|n| n.id.as_str()).collect();
        prop_assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "nodes sorted and unique: {:?}",
            ids
        );
        prop_assert!(
            network
                .nodes
                .iter()
                .all(|n| n.mentions + n.lines_spoken > 0)
        );
        let pairs: Vec<(&str, &str)> = network
            .edges
            .iter()
            .map(|e| (e.source.as_str(), e.target.as_str()))
            .collect();
        prop_assert!(
            pairs.windows(2).all(|w| w[0] < w[1]),
            "edges sorted and unique"
        );
        for e in &network.edges {
            prop_assert!(e.source < e.target, "one direction only, no loops: {:?}", e);
            prop_assert!(e.weight >= 1);
            let count = |id: &str| {
                network
                    .nodes
                    .iter()
                    .find(|n| n.id == id)
                    .map(|n| n.mentions + n.lines_spoken)
            };
            let (a, b) = (count(&e.source), count(&e.target));
            prop_assert!(a.is_some() && b.is_some(), "edge ends are nodes: {:?}", e);
            prop_assert!(
                e.weight <= a.unwrap_or(0) + b.unwrap_or(0),
                "a pair counts only lines with one of them"
            );
        }
        Ok(())
    }

    proptest! {
        // Failures are reported with their minimal input; nothing is written to the source tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn networks_are_well_formed_and_deterministic(episodes in episodes(), window in 0usize..6) {
            let cast = Cast::builtin();
            let network = build(&cast, window, &episodes);
            well_formed(&network)?;
            prop_assert_eq!(&build(&cast, window, &episodes), &network);
            prop_assert_eq!(build(&cast, window, &episodes).to_json(), network.to_json());

            let reversed: Vec<Vec<Line>> = episodes.iter().rev().cloned().collect();
            prop_assert_eq!(&build(&cast, window, &reversed), &network, "episode order does not matter");

            let twice: Vec<Vec<Line>> = episodes.iter().chain(&episodes).cloned().collect();
            let doubled = build(&cast, window, &twice);
            prop_assert_eq!(doubled.nodes.len(), network.nodes.len());
            prop_assert!(doubled.edges.iter().zip(&network.edges).all(|(d, e)| d.weight == 2 * e.weight));
            prop_assert!(doubled.nodes.iter().zip(&network.nodes).all(|(d, n)| d.mentions == 2 * n.mentions));

            let wider = build(&cast, window.max(1) + 1, &episodes);
            for e in &network.edges {
                let w = wider.edges.iter().find(|x| x.source == e.source && x.target == e.target);
                prop_assert!(w.is_some_and(|w| w.weight >= e.weight), "a wider window never loses weight");
            }
            prop_assert_eq!(embedded(&network.to_html("t")), network);
        }

        #[test]
        fn window_one_counts_lines_with_both(episodes in episodes()) {
            let cast = Cast::builtin();
            let network = build(&cast, 1, &episodes);
            for e in &network.edges {
                let both = episodes.iter().flatten().filter(|l| {
                    let mut present: Vec<&str> = cast.mentions(&l.text);
                    present.extend(l.speaker.as_deref().and_then(|s| cast.resolve(s)));
                    present.contains(&e.source.as_str()) && present.contains(&e.target.as_str())
                });
                prop_assert_eq!(both.count() as u64, e.weight);
            }
        }
    }
}
