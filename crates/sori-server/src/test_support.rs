//! Helpers shared by this crate's unit tests.

/// The size of what `f` returns, without calling it: for an `async fn` (or
/// a function returning `impl Future`) of seven arguments, the size of its
/// future, which is what a waiting session carries.
pub(crate) fn returned_size<F, A, B, C, D, E, G, H, R>(_: &F) -> usize
where
    F: FnOnce(A, B, C, D, E, G, H) -> R,
{
    size_of::<R>()
}
