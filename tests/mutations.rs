//! Damaged inputs, many of them: seeded random mutations of valid IDX files, model files and
//! sweep files go through the readers, which must return an error or a consistent result and
//! never panic. (`scripts/fuzz.sh` runs the same readers under libFuzzer for longer.)

mod common;

use std::path::Path;

use bilens::data::idx;
use bilens::pipeline::SweepFile;
use bilens::{Bilinear, ModelConfig};
use rand::Rng;

const MUTATIONS: usize = 3000;

/// `bytes` with a few random edits: flipped bytes, a cut, appended bytes, or a header word set
/// to an extreme value.
fn mutate(bytes: &[u8], rng: &mut bilens::Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.random_range(1..4) {
        if out.is_empty() {
            out.push(rng.random());
            continue;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..5) {
            0 => out[at] ^= 1 << rng.random_range(0..8),
            1 => out[at] = rng.random(),
            2 => out.truncate(at),
            3 => out.extend((0..rng.random_range(1..40)).map(|_| rng.random::<u8>())),
            _ => {
                let (word, len) = ((at / 4 * 4).min(out.len().saturating_sub(4)), out.len());
                let v: u32 = [0, 1, u32::MAX, 1 << 31, rng.random()][rng.random_range(0..5)];
                let n = 4.min(len - word);
                out[word..word + n].copy_from_slice(&v.to_be_bytes()[..n]);
            }
        }
    }
    out
}

#[test]
fn damaged_idx_files_are_errors() {
    let path = Path::new("mutated.idx");
    let images = idx::encode_images(5, 6, &(0..3 * 30).map(|i| i as u8).collect::<Vec<_>>());
    let labels = idx::encode_labels(&[1, 2, 3]);
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&images).unwrap();
        e.finish().unwrap()
    };
    let mut rng = bilens::rng(1);
    for k in 0..MUTATIONS {
        let source = [&images, &labels, &gz][k % 3];
        let bytes = mutate(source, &mut rng);
        if let Ok(raw) = idx::decompress(&bytes, path) {
            if let Ok(im) = idx::parse_images(&raw, path) {
                assert_eq!(im.pixels.len(), im.n * im.rows * im.cols);
            }
            let _ = idx::parse_labels(&raw, path);
        }
    }
}

#[test]
fn damaged_model_files_are_errors() {
    let dir = common::temp_dir("mutations");
    let path = dir.join("m.safetensors");
    let cfg = ModelConfig { n_inputs: 12, n_embed: Some(3), n_hidden: 4, n_outputs: 2 };
    bilens::save_model(&Bilinear::init(cfg, &mut bilens::rng(2)), &path).unwrap();
    let valid = std::fs::read(&path).unwrap();
    let mut rng = bilens::rng(3);
    for _ in 0..MUTATIONS {
        let bytes = mutate(&valid, &mut rng);
        if let Ok(m) = bilens::model::parse_model(&bytes, "mutated.safetensors") {
            let c = m.config();
            assert!(c.n_inputs > 0 && c.n_read() > 0 && c.n_hidden > 0 && c.n_outputs == m.bias.len());
            assert!(bilens::Interaction::new(&m).norm().is_finite());
        }
    }
}

#[test]
fn damaged_sweep_files_are_errors() {
    let valid = "[base]\nepochs = 3\n[[grid]]\npresets = [\"provided_sparse\", \"combo_cp_top1_res8\"]\nseeds = [0, 1]\nset = { steps = 60, rank = [16, 32] }\n";
    let mut rng = bilens::rng(4);
    for _ in 0..MUTATIONS {
        let bytes = mutate(valid.as_bytes(), &mut rng);
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        if let Ok(file) = toml::from_str::<SweepFile>(text)
            && let Ok(runs) = file.expand()
        {
            assert!(!runs.is_empty() && runs.iter().all(|r| r.id.len() <= 200));
        }
    }
}
