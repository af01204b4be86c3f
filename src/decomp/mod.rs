
pub mod templates;
pub mod image_ops;
