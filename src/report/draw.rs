//! The draw-a-digit panel: a run's decomposed model (every component, displayed and
//! residual, plus the base model's output bias) and the base model itself, evaluated in the
//! browser (`draw.js`) on a drawing or a test image. Drawings are prepared as MNIST's digits
//! were: the ink's bounding box scaled to fit 20×20 (of a 28×28 field, in proportion for other
//! sizes) keeping its aspect ratio, then shifted so its centre of mass sits at the centre.
//!
//! The page cannot be trusted to agree with bilens by construction, so every run record
//! carries bilens's logits for a few test images; the script recomputes them for the run it
//! shows and reports the largest difference in `#selfcheck` (and on the console when it
//! exceeds the tolerance).

use super::html::{Html, anchor_id};

/// The panel for the runs whose records the page carries (`runs`, in results order), starting
/// with `main`; `unavailable` says why there is no panel instead.
pub fn section(h: &mut Html, runs: &[&str], main: Option<&str>, unavailable: Option<String>) {
    h.open("section", &[("id", "draw"), ("aria-labelledby", "draw-h")]).elem("h2", &[("id", "draw-h")], "Draw a digit");
    if let Some(why) = unavailable.or_else(|| runs.is_empty().then(|| "no run has its factors (runs/*/factors.safetensors).".to_string())) {
        h.missing(&format!("The draw-a-digit panel is unavailable: {why}"));
        h.close("section");
        return;
    }
    h.elem(
        "p",
        &[],
        "Draw a digit with the mouse, a pen or a finger, or pick a test image. The chosen decomposition (all its components, displayed and residual, plus the base model's \
         output bias) and the base model run in your browser on the input; your drawing is first prepared as MNIST's digits were (ink scaled into the central 20×20 box, \
         centre of mass centred). Select a class to see the components voting for and against it, each with its patterns, the one this input matches most first, and a link to its card.",
    );
    h.open("div", &[("class", "draw")]).open("div", &[("class", "pad-col")]);
    h.open("div", &[("class", "field")]).elem("label", &[("for", "draw-run")], "Decomposition").open("select", &[("id", "draw-run")]);
    for id in runs {
        let mut attrs = vec![("value", anchor_id(id))];
        if Some(*id) == main {
            attrs.push(("selected", String::new()));
        }
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        h.elem("option", &attrs, id);
    }
    h.close("select").close("div");
    h.raw(PAD);
    h.close("div").raw(OUTPUTS).close("div").close("section");
}

/// The drawing pad and its controls (filled and driven by `draw.js`).
const PAD: &str = r#"<canvas id="pad" width="280" height="280" role="img" aria-label="Drawing pad: draw a digit with the mouse, a pen or a finger"></canvas>
<div class="pad-tools">
<button type="button" id="pad-clear">Clear</button>
<div class="field"><label for="pad-pick">Test image</label><select id="pad-pick"><option value="">none: draw your own</option></select></div>
<div class="check"><input type="checkbox" id="pad-view"><label for="pad-view">Show the model's input (prepared as MNIST)</label></div>
</div>
<p id="selfcheck" class="selfcheck" role="status" data-status="pending">Self-check pending (it needs JavaScript).</p>"#;

/// Logits, the prediction explained in a sentence (`#why`, as `bilens explain` says it), and the
/// components' votes.
const OUTPUTS: &str = r#"<div class="logit-col"><h3>Logits</h3><p id="logit-note" class="muted"></p><p id="why" class="why" aria-live="polite"></p><div id="logit-bars" class="logit-bars"></div></div>
<div class="contrib-col"><h3 id="contrib-title">Components</h3><div id="contrib" class="contrib"></div></div>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_offers_every_run_and_says_why_when_it_cannot() {
        let mut h = Html::new();
        section(&mut h, &["a__seed=0", "b<x>__seed=0"], Some("b<x>__seed=0"), None);
        let page = h.finish();
        assert!(
            page.contains("<label for=\"draw-run\">")
                && page.contains("<label for=\"pad-pick\">")
                && page.contains("<label for=\"pad-view\">")
        );
        assert!(page.contains("value=\"b-x-__seed=0\" selected") && page.contains("b&lt;x&gt;__seed=0"), "{page}");
        let mut h = Html::new();
        section(&mut h, &["a"], None, Some("these images are 28×32".into()));
        assert!(h.finish().contains("unavailable: these images are 28×32"));
        let mut h = Html::new();
        section(&mut h, &[], None, None);
        assert!(h.finish().contains("no run has its factors"));
    }
}
