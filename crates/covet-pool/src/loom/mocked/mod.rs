//! loom's model-checked primitives behind the same surface as `std`.

pub(crate) mod sync {
    pub(crate) use ::loom::sync::Arc;
    /// `std`'s `Arc` under loom too, for values handed to callers (the last
    /// create error in `PoolError`): part of the public API, and never
    /// shared between the threads of a model.
    pub(crate) use ::std::sync::Arc as StdArc;

    /// loom's mutex with the shim's non-poisoning `lock`.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(::loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(::loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> ::loom::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(::std::sync::PoisonError::into_inner)
        }
    }

    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use ::loom::sync::atomic::*;
    }
}

#[allow(unused_imports)]
pub(crate) mod cell {
    pub(crate) use ::loom::cell::UnsafeCell;
}

#[allow(unused_imports)]
pub(crate) use ::loom::thread;
