//! Compiling a hot loop for the machine's widest vector instructions.

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has them, so that its loops vectorise
/// wide. The results are the same bits on every CPU: Rust never fuses a multiply and an add
/// unless asked to, and division and square root are correctly rounded.
#[inline(always)]
pub(super) fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has!("avx512f") && has!("avx512dq") && has!("avx512vl") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { avx512(f) };
        }
        if has!("avx2") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}
