
pub mod patterns;
