use std::path::PathBuf;

use anyhow::Result;

use crate::pipeline::compare::compare_runs;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder (`bilens decompose --out`, or a sweep's `runs/ID`).
    run_a: PathBuf,
    /// The run to match it with.
    run_b: PathBuf,
    /// Patterns per class and evidence sign to match, heaviest first.
    #[arg(long, default_value_t = 4)]
    top: usize,
    /// Write `compare.json` and the figure of matched concepts `compare.png` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Prints the comparison as one JSON object on stdout and a sentence or two on stderr.
pub fn run(args: Args) -> Result<()> {
    let result = compare_runs(&args.run_a, &args.run_b, args.top, args.out.as_deref())?;
    println!("{}", serde_json::to_string(&result)?);
    let eigen = result["eigen_rank_matched_similarity"].as_f64().map_or("–".to_string(), |v| format!("{v:.3}"));
    let num = |key: &str| result[key].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "concepts of A matched in B: {:.3} (strength-weighted |cos| of the {} heaviest patterns per class and sign), at most {:.3} for any re-split of B's within their span; \
         the models' rank-matched eigenbases: {eigen}; class tensors alike at {:.3}, their evidence and counter-evidence at {:.3}",
        num("similarity"),
        args.top,
        num("span_similarity"),
        num("tensor_similarity"),
        num("evidence_similarity")
    );
    if result["similarity_on_inputs"].is_number() {
        eprintln!(
            "by their responses on A's training inputs: concepts {:.3}, eigenbases {:.3}; on A's test inputs the two models predict alike on {:.2}% and their centred logits are alike at {:.3}",
            num("similarity_on_inputs"),
            num("eigen_rank_matched_similarity_on_inputs"),
            100.0 * num("models_agreement"),
            num("models_logit_cosine")
        );
    }
    Ok(())
}
