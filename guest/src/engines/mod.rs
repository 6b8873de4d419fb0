//! Engine mappers: exposition families → engine snapshot. (Being written.)
