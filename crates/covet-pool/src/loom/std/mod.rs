//! The real primitives, with the same small surface as `mocked`.

pub(crate) mod sync {
    pub(crate) use ::std::sync::Arc;
    /// `std`'s `Arc` under loom too, for values handed to callers (the last
    /// create error in `PoolError`): part of the public API, and never
    /// shared between the threads of a model.
    pub(crate) use ::std::sync::Arc as StdArc;

    /// A mutex whose lock ignores poisoning: the pool's state is updated in
    /// single steps that leave it consistent, so a panic elsewhere while the
    /// guard was held must not make every later acquire panic too.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(::std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(::std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> ::std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(::std::sync::PoisonError::into_inner)
        }
    }

    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use ::std::sync::atomic::*;
    }
}

#[allow(unused_imports)]
pub(crate) mod cell {
    pub(crate) use ::std::cell::UnsafeCell;
}

#[allow(unused_imports)]
pub(crate) use ::std::thread;
