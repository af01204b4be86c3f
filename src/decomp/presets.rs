//! Named recipes.
